"""The answer path's logic without the real models: question profile, candidate features,
the decision (threshold, margin, citations) and the weights file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ncpi_qa.errors import AnswererWeightsError
from ncpi_qa.index.files_store import Store
from ncpi_qa.qa.answer import DECLINE_TEXT, Answerer, span_text, stage2_features
from ncpi_qa.qa.features import FEATURES, GROUPS, STAGE2_FEATURES, TermStats, candidate_features
from ncpi_qa.qa.model import load_model
from ncpi_qa.qa.question import analyse, kind_of
from ncpi_qa.qa.reader import Reading, best_span, reader_text
from ncpi_qa.qa.retrieve import Retriever
from ncpi_qa.schema import ABSTAIN_PHRASE, CLOSEST_PHRASE, Candidate

from .conftest import linear_model


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many inspections were there?", "how_many"),
        ("What year did the programme start?", "when"),
        ("When did it start?", "when"),
        ("What happens when the police first come into contact with a child?", "what"),
        ("Who led the inspection?", "who"),
        ("In which city is the force based?", "which"),
        ("How long did the review take?", "how_much"),
        ("Did HMICFRS look at custody?", "other"),
    ],
)
def test_kind_is_read_from_the_first_wh_phrase(question, kind):
    assert kind_of(question) == kind


def test_profile_reads_terms_numbers_names_and_negation():
    p = analyse("Why did Warsaw not grow after 1945?")
    assert p.kind == "why"
    assert {"warsaw", "grow", "1945"} <= set(p.terms)
    assert p.numbers == frozenset({"1945"}) and "warsaw" in p.names and p.negated
    assert not analyse("Why did Warsaw grow?").negated


def test_best_span_keeps_order_length_and_mask():
    start = np.array([0.0, 5.0, 1.0, 9.0, 0.0])
    end = np.array([0.0, 0.0, 4.0, 0.0, 7.0])
    ok = np.array([False, True, True, True, True])
    assert best_span(start, end, ok) == (3, 4, 16.0)  # start 3 (9) + end 4 (7)
    assert best_span(start, end, ok, max_len=1)[:2] == (3, 3)  # one token only
    ok[3] = False  # token 3 is not in the sentence (e.g. the heading)
    assert best_span(start, end, ok)[:2] == (1, 4)  # 5 + 7 beats 1 + 7
    assert best_span(start, end, np.zeros(5, bool)) is None
    # an end before its start is never chosen, even when it scores higher
    assert best_span(np.array([0.0, 9.0]), np.array([9.0, 0.0]), np.ones(2, bool))[:2] != (1, 0)


def test_reader_text_puts_the_heading_first_and_says_where_the_sentence_starts():
    # the legacy format (readers trained before the context): heading, then the sentence
    text, off = reader_text("  Key   findings ", "It draws on 64 inspections.", fmt="heading")
    assert text == "Key findings: It draws on 64 inspections."
    assert text[off:] == "It draws on 64 inspections."
    assert reader_text("", "Plain.", fmt="heading") == ("Plain.", 0)


def test_reader_text_reads_the_sentence_after_its_heading_and_the_sentence_before():
    prev = "Since 2016 HMICFRS has carried out joint targeted area inspections (JTAIs)."
    sent = "These short, focused inspections consider the effectiveness of partnerships."
    text, off = reader_text("Background", sent, prev)
    assert text == f"Background: {prev} [SEP] {sent}"
    assert text[off:] == sent
    assert reader_text("", "Plain.") == ("[SEP] Plain.", 6)
    # a long sentence before is cut to its end, at a word boundary
    long_prev = "word " * 100 + "the inspections named here."
    text, off = reader_text("", sent, long_prev)
    assert text[off:] == sent and text.startswith("… ") and "the inspections named here." in text
    assert len(text[:off]) < 220


def test_span_text_is_the_document_text_of_the_span(fake_qa_parts):
    store, *_ = fake_qa_parts
    ci = 0
    s, e = store.chunks[ci].sentences[0]
    doc = store.documents[store.chunks[ci].doc_id].text
    words = doc[s:e].split()
    assert len(words) > 3
    w0 = doc.index(words[1], s)
    span = (w0, w0 + len(words[1]))
    c = Candidate(ci, 0, s, e, 1.0, 0.0, span)
    assert span_text(store, c) == words[1]
    assert span_text(store, Candidate(ci, 0, s, e, 1.0, 0.0, None)) is None
    assert span_text(store, Candidate(ci, 0, s, e, 1.0, 0.0, (s, e))) is None  # whole sentence


@pytest.fixture
def fake_qa_parts(fake_index, fake_embedder):
    store = Store.load(fake_index.store_dir)
    return store, Retriever(store, fake_embedder, 30, dense_weight=0.5), fake_embedder


def test_features_measure_what_they_name(fake_qa_parts):
    store, retriever, emb = fake_qa_parts
    q = "How many recommendations did inspectors make to Riverside Constabulary?"
    qvec = emb.encode([q])[0]
    passages = retriever.search(q, qvec, 5)
    ans = Answerer(store, linear_model({"cov_sent": 1.0}))
    x, where = ans.features(analyse(q), qvec, passages)
    assert x.shape == (len(where), len(FEATURES)) and len(where) > 3
    col = {f: x[:, i] for i, f in enumerate(FEATURES)}
    assert np.all((col["cov_sent"] >= 0) & (col["cov_sent"] <= 1.0001))
    assert np.all(col["cov_ctx"] >= col["cov_sent"] - 1e-6)  # context holds the sentence
    assert np.all(col["cov_chunk"] >= col["cov_ctx"] - 1e-6)  # the passage holds the context
    assert col["dense_margin"].max() == pytest.approx(0.0) and col["dense_rank_inv"].max() == 1
    assert np.all(col["kind_how_many"] == 1) and np.all(col["kind_who"] == 0)
    # The sentence that names the recommendations covers more of the question than any other.
    texts = [store.documents[passages[pi].doc_id].text for pi, _ in where]
    spans = [store.chunks[passages[pi].chunk_index].sentences[j] for pi, j in where]
    best = int(np.argmax(col["cov_sent"]))
    s, e = spans[best]
    assert "recommendation" in texts[best][s:e].lower()


def test_a_missing_name_is_measured():
    class Stats(TermStats):
        def __init__(self):
            pass

        def idf(self, term):
            return 2.0

    p = analyse("Where was Lakeside founded?")
    stats = Stats()
    stats.chunk = lambda ci: (  # one passage, two sentences, only the first names Lakeside
        [
            type("S", (), {"terms": frozenset({"lakesid", "found"}), "facts": (0,) * 6,
                           "n_words": 4, "names": frozenset({"lakesid"})})(),
            type("S", (), {"terms": frozenset({"found"}), "facts": (0,) * 6, "n_words": 3,
                           "names": frozenset()})(),
        ],
        frozenset(),
    )  # fmt: skip
    passage = type("P", (), {"chunk_index": 0, "dense": 0.5, "bm25": 1.0})()
    x, _ = candidate_features(p, stats, [passage], [np.array([0.6, 0.4])])
    names = x[:, FEATURES.index("names_found")]
    cov = x[:, FEATURES.index("cov_sent")]
    assert cov[0] == pytest.approx(1.0) and cov[1] == pytest.approx(0.5)
    assert names[0] == 1.0 and names[1] == 1.0  # the neighbour sentence counts as context
    assert x[0, FEATURES.index("missing_count")] == 0


def test_decide_thresholds_margins_and_cites_exact_text(fake_qa_parts):
    store, retriever, emb = fake_qa_parts
    q = "How many recommendations did inspectors make to Riverside Constabulary?"
    qvec = emb.encode([q])[0]
    passages = retriever.search(q, qvec, 5)
    answerer = Answerer(store, linear_model({"cov_sent": 8.0}, threshold=0.5, margin=0.5))
    profile = analyse(q)
    cands, answerability, _ = answerer.score(profile, qvec, passages)
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    text, tier, cites = answerer.decide(profile, cands, answerability, threshold=0.0)
    assert tier == "answer" and 1 <= len(cites) <= 3
    for c in cites:
        assert store.documents[c.doc_id].text[c.start : c.end] == c.quote
        assert f"“{c.quote}” [{c.n}]" in text
    assert all(c.score >= cites[0].score - 0.5 for c in cites)
    # Above every candidate's answerability and relevance: the none tier, no citations.
    d = answerer.decide(profile, cands, answerability, threshold=1.01, none_threshold=1.01)
    assert d.declined and d.tier == "none" and d.citations == []
    assert d.text == DECLINE_TEXT and d.text.startswith(ABSTAIN_PHRASE)
    # Below the answer threshold but relevant: the closest tier quotes the best sentence
    # under CLOSEST_PHRASE, exactly, with one citation and no lead.
    d = answerer.decide(profile, cands, answerability, threshold=1.01, none_threshold=0.0)
    assert d.declined and d.tier == "closest" and len(d.citations) == 1
    best = cands[0]
    assert (
        d.citations[0].quote == store.documents[d.citations[0].doc_id].text[best.start : best.end]
    )
    assert d.text == f"{CLOSEST_PHRASE} “{d.citations[0].quote}” [1]"
    # Margin 0 quotes only sentences tied with the best.
    _, _, cites = answerer.decide(profile, cands, answerability, threshold=0.0, margin=0.0)
    assert all(c.score == cites[0].score for c in cites)


def test_duplicate_sentences_are_quoted_once(fake_qa_parts):
    store, *_ = fake_qa_parts
    answerer = Answerer(store, linear_model({}))
    chunk = store.chunks[0]
    s, e = chunk.sentences[0]
    twice = [Candidate(0, 0, s, e, 2.0), Candidate(0, 0, s, e, 1.9)]
    d = answerer.decide(analyse("anything?"), twice, 0.9, threshold=0.1)
    assert not d.declined and len(d.citations) == 1


def test_no_candidates_declines(fake_qa_parts):
    store, *_ = fake_qa_parts
    answerer = Answerer(store, linear_model({}))
    d = answerer.decide(analyse("x?"), [], 0.0, threshold=0.0)
    assert d.declined and d.tier == "none" and d.citations == []


def test_answerability_is_one_minus_the_null_share():
    m = linear_model({}, null=0.0)
    assert m.answerability(np.array([0.0])) == pytest.approx(0.5)
    assert m.answerability(np.array([0.0, 0.0, 0.0])) == pytest.approx(0.75)
    assert m.answerability(np.array([-20.0])) < 0.001
    assert m.answerability(np.zeros(0)) == 0.0


def test_calibration_maps_the_answer_share_through_a_sigmoid():
    m = linear_model({}, null=0.0)
    m.calibration = (2.0, -1.0)
    # one candidate at 0 against the null at 0: share 0.5, logit 0 -> sigmoid(-1)
    assert m.answerability(np.array([0.0])) == pytest.approx(1 / (1 + np.exp(1.0)))
    # three candidates at 0: share 0.75, logit ln 3 -> sigmoid(2 ln 3 - 1)
    assert m.answerability(np.zeros(3)) == pytest.approx(1 / (1 + np.exp(-(2 * np.log(3) - 1))))
    assert m.answerability(np.zeros(0)) == 0.0


def test_stage2_features_rank_the_reader():
    x = np.zeros((3, len(FEATURES)), np.float32)
    readings = [
        Reading(0.5, (0, 3), 2.0),
        Reading(-1.0, None, float("-inf")),
        Reading(3.0, (1, 2), 5.0),
    ]
    out = stage2_features(x, np.array([1.0, 2.0, 0.0]), readings)
    assert out.shape == (3, len(STAGE2_FEATURES))
    col = {f: out[:, i] for i, f in enumerate(STAGE2_FEATURES)}
    assert list(col["rd_rank_inv"]) == [0.5, pytest.approx(1 / 3), 1.0]
    assert list(col["s1_margin"]) == [-1.0, 0.0, -2.0] and list(col["rd_margin"]) == [-2.5, -4, 0]
    assert col["rd_span"][1] == -20.0  # no span: a finite floor, not -inf
    assert list(col["rd_span_margin"]) == [-3.0, -25.0, 0.0]


def test_weights_roundtrip_and_clear_errors(tmp_path):
    m = linear_model({"dense": 2.0}, threshold=0.37, margin=1.5)
    path = tmp_path / "w.json"
    m.save(path)
    back = load_model(path)
    x = np.random.default_rng(0).random((4, len(FEATURES)), dtype=np.float32)
    assert np.allclose(back.stage1.scores(x), m.stage1.scores(x))
    assert back.threshold == 0.37 and back.margin == 1.5 and back.stage2 is None
    with pytest.raises(AnswererWeightsError, match="make train"):
        load_model(tmp_path / "missing.json")
    d = json.loads(path.read_text())
    d["stage1"]["features"] = d["stage1"]["features"][:-1]
    path.write_text(json.dumps(d))
    with pytest.raises(AnswererWeightsError, match="other features"):
        load_model(path)
    path.write_text("{not json")
    with pytest.raises(AnswererWeightsError, match="cannot be read"):
        load_model(path)


def test_feature_groups_name_real_features():
    for cols in GROUPS.values():
        assert set(cols) <= set(FEATURES)


JTAI = (
    "The inspections are carried out jointly by Ofsted, the Care Quality Commission, "
    "HMICFRS and Her Majesty's Inspectorate of Probation."
)
YODER = "In Wisconsin v. Yoder, 406 U.S. 205 (1972), the Court ruled for the parents."


def _whole(sentence: str, span: str) -> bool:
    from ncpi_qa.qa.answer import span_is_whole

    a = sentence.index(span)
    return span_is_whole(sentence, a, a + len(span))


@pytest.mark.parametrize(
    ("sentence", "span", "whole"),
    [
        (JTAI, "Her Majesty's Inspectorate of Probation", False),  # the last of four
        (JTAI, "the Care Quality Commission", False),  # one in the middle
        (JTAI, "Ofsted", False),  # the first of several
        (
            JTAI,
            JTAI[JTAI.index("Ofsted") : -1],  # the whole list
            True,
        ),
        (YODER, "406", False),  # a volume number of a case citation
        (YODER, "205", False),
        (YODER, "1972", True),
        ("The 2019 report draws on 64 inspections.", "64", True),
        ("Since 2016, HMICFRS has published 26 reports on its findings.", "26", True),
        ("Jane Smith, the chief inspector, wrote the foreword.", "Jane Smith", True),
        ("See No. 3 of the schedule for the 12 forces.", "3", False),
        ("See No. 3 of the schedule for the 12 forces.", "12", True),
    ],
)
def test_a_lead_span_is_a_whole_answer(sentence, span, whole):
    assert _whole(sentence, span) is whole
