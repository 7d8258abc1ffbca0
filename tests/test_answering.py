"""The answer path's logic without the real models: question profile, candidate features,
the decision (threshold, margin, citations) and the weights file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ncpi_qa.errors import AnswererWeightsError
from ncpi_qa.index.store import Store
from ncpi_qa.qa.answer import DECLINE_TEXT, Answerer, lead_fact, stage2_features
from ncpi_qa.qa.features import FEATURES, GROUPS, TermStats, candidate_features
from ncpi_qa.qa.model import MLP, STAGE2_FEATURES, AnswerModel, load_model
from ncpi_qa.qa.question import analyse, kind_of
from ncpi_qa.qa.retrieve import Retriever
from ncpi_qa.schema import ABSTAIN_PHRASE, Candidate


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


def test_lead_fact_is_the_one_new_number_or_date():
    how_many = analyse("How many inspections does the report draw on?")
    assert lead_fact("It draws on all 64 inspections.", how_many) == "64"
    assert lead_fact("It draws on 64 inspections and 12 reviews.", how_many) is None
    when = analyse("When did the 2019 programme begin?")
    assert lead_fact("The 2019 programme began in March 2014.", when) == "March 2014"
    assert lead_fact("It began long ago.", when) is None
    assert lead_fact("It draws on 64 inspections.", analyse("Why were they done?")) is None


def _model(stage1_weights: dict[str, float], threshold=0.5, margin=1.0, null=0.0):
    """A linear stage-1 model over named features (no stage 2)."""
    w = np.zeros((len(FEATURES), 1), np.float32)
    for name, v in stage1_weights.items():
        w[FEATURES.index(name), 0] = v
    mlp = MLP(FEATURES, np.zeros(len(FEATURES), np.float32), np.ones(len(FEATURES), np.float32),
              [(w, np.zeros(1, np.float32))])  # fmt: skip
    return AnswerModel(mlp, null, threshold, margin)


@pytest.fixture
def fake_qa_parts(fake_index, fake_embedder):
    store = Store.load(fake_index.store_dir)
    return store, Retriever(store, fake_embedder, 30, dense_weight=0.5), fake_embedder


def test_features_measure_what_they_name(fake_qa_parts):
    store, retriever, emb = fake_qa_parts
    q = "How many recommendations did inspectors make to Riverside Constabulary?"
    qvec = emb.encode([q])[0]
    passages = retriever.search(q, qvec, 5)
    ans = Answerer(store, _model({"cov_sent": 1.0}))
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
    answerer = Answerer(store, _model({"cov_sent": 8.0}, threshold=0.5, margin=0.5))
    profile = analyse(q)
    cands, answerability = answerer.score(profile, qvec, passages)
    assert [c.score for c in cands] == sorted((c.score for c in cands), reverse=True)
    text, declined, cites = answerer.decide(profile, cands, answerability, threshold=0.0)
    assert not declined and 1 <= len(cites) <= 3
    for c in cites:
        assert store.documents[c.doc_id].text[c.start : c.end] == c.quote
        assert f"“{c.quote}” [{c.n}]" in text
    assert all(c.score >= cites[0].score - 0.5 for c in cites)
    # Above every candidate's answerability: decline, no citations.
    text, declined, cites = answerer.decide(profile, cands, answerability, threshold=1.01)
    assert declined and cites == [] and text == DECLINE_TEXT and text.startswith(ABSTAIN_PHRASE)
    # Margin 0 quotes only sentences tied with the best.
    _, _, cites = answerer.decide(profile, cands, answerability, threshold=0.0, margin=0.0)
    assert all(c.score == cites[0].score for c in cites)


def test_duplicate_sentences_are_quoted_once(fake_qa_parts):
    store, *_ = fake_qa_parts
    answerer = Answerer(store, _model({}))
    chunk = store.chunks[0]
    s, e = chunk.sentences[0]
    twice = [Candidate(0, 0, s, e, 2.0), Candidate(0, 0, s, e, 1.9)]
    _, declined, cites = answerer.decide(analyse("anything?"), twice, 0.9, threshold=0.1)
    assert not declined and len(cites) == 1


def test_no_candidates_declines(fake_qa_parts):
    store, *_ = fake_qa_parts
    answerer = Answerer(store, _model({}))
    assert answerer.decide(analyse("x?"), [], 0.0, threshold=0.0)[1] is True


def test_answerability_is_one_minus_the_null_share():
    m = _model({}, null=0.0)
    assert m.answerability(np.array([0.0])) == pytest.approx(0.5)
    assert m.answerability(np.array([0.0, 0.0, 0.0])) == pytest.approx(0.75)
    assert m.answerability(np.array([-20.0])) < 0.001
    assert m.answerability(np.zeros(0)) == 0.0


def test_stage2_features_rank_the_cross_encoder():
    x = np.zeros((3, len(FEATURES)), np.float32)
    out = stage2_features(x, np.array([1.0, 2.0, 0.0]), np.array([0.5, -1.0, 3.0]))
    assert out.shape == (3, len(STAGE2_FEATURES))
    col = {f: out[:, i] for i, f in enumerate(STAGE2_FEATURES)}
    assert list(col["ce_rank_inv"]) == [0.5, pytest.approx(1 / 3), 1.0]
    assert list(col["s1_margin"]) == [-1.0, 0.0, -2.0] and list(col["ce_margin"]) == [-2.5, -4, 0]


def test_weights_roundtrip_and_clear_errors(tmp_path):
    m = _model({"dense": 2.0}, threshold=0.37, margin=1.5)
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
