"""evals/metrics.py: answer, citation, retrieval and latency metrics on hand-made records, the
whole-set scoring, the threshold sweep and the gate (no index, no model)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from ncpi_qa.evals.dataset import Row
from ncpi_qa.evals.metrics import (
    GATE,
    answer_correct,
    citation_supports,
    citation_valid,
    first_relevant_rank,
    gate_failures,
    locate_support,
    percentile,
    retrieval_metrics,
    score_records,
    sweep_point,
    sweep_thresholds,
)

REQUIRED_KEYS = {
    "n",
    "answer_accuracy",
    "false_abstention_rate",
    "abstention_accuracy",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "retrieval",
    "latency_ms",
    "failures",
}

# A tiny fake corpus: two documents, three chunks.
DOC_A = "Intro line.\n\nIn 2014, the  inspectorate began a programme.\nIt covered custody."
DOC_B = "Other text. The hub’s budget is £5."
DOCS = {"a": SimpleNamespace(text=DOC_A), "b": SimpleNamespace(text=DOC_B)}
CHUNKS = [
    SimpleNamespace(chunk_id="a [0:11]", doc_id="a", start=0, end=11),
    SimpleNamespace(chunk_id="a [13:80]", doc_id="a", start=13, end=len(DOC_A)),
    SimpleNamespace(chunk_id="b [0:35]", doc_id="b", start=0, end=len(DOC_B)),
]


def cite(doc_id, start, end, text=None, chunk_id=None, page=None, n=1):
    src = DOCS[doc_id].text if doc_id in DOCS else ""
    return {
        "n": n,
        "doc_id": doc_id,
        "start": start,
        "end": end,
        "page": page,
        "quote": src[start:end] if text is None else text,
        "chunk_id": chunk_id,
    }


def span_of(doc_id, quote):
    s = DOCS[doc_id].text.index(quote)
    return s, s + len(quote)


# ---------------------------------------------------------------- answers and citations


def test_answer_correct_uses_normalization():
    assert answer_correct("In  2014,\nHMICFRS began", ["hmicfrs BEGAN"])
    assert answer_correct("Her Majesty’s Inspectorate", ["her majesty's inspectorate"])
    assert answer_correct("Ｆｕｌｌ width ２０１４", ["2014"])  # NFKC
    assert not answer_correct("In 2015", ["2014"])
    assert not answer_correct("", ["2014"])


def test_answer_correct_needs_all_of():
    answer = "Ofsted and the Care Quality Commission"
    assert answer_correct(answer, ["ofsted"], ["care quality commission"])
    assert not answer_correct(answer, ["ofsted"], ["care quality commission", "probation"])
    assert not answer_correct(answer, ["nope"], ["ofsted"])


def test_citation_valid_requires_exact_quote_at_offsets():
    s, e = span_of("a", "In 2014")
    assert citation_valid(cite("a", s, e), DOCS)
    assert not citation_valid(cite("a", s, e + 1, text="In 2014"), DOCS)  # off by one
    assert not citation_valid(cite("a", s, e, text="in 2014"), DOCS)  # not verbatim
    assert not citation_valid(cite("zzz", 0, 3, text="abc"), DOCS)  # unknown document
    assert not citation_valid(cite("a", 0, 10_000, text=DOC_A), DOCS)  # out of range
    assert not citation_valid(cite("a", 5, 5, text=""), DOCS)  # empty span
    assert not citation_valid({"doc_id": "a", "quote": "x"}, DOCS)  # no offsets


def test_locate_support_ignores_whitespace_case_and_quote_style():
    spans = locate_support("in 2014, the inspectorate began a programme.", DOCS)
    assert spans == [("a", *span_of("a", "In 2014, the  inspectorate began a programme."))]
    spans = locate_support("The hub's budget", DOCS)  # straight vs curly apostrophe
    assert spans == [("b", *span_of("b", "The hub’s budget"))]
    assert locate_support("not in any document", DOCS) == []
    assert locate_support(None, DOCS) == []


def test_citation_supports_by_span_overlap_or_by_chunk():
    spans = locate_support("It covered custody.", DOCS)
    s, e = spans[0][1], spans[0][2]
    by_id = {c.chunk_id: c for c in CHUNKS}
    assert citation_supports(cite("a", s, e), spans, by_id)  # same span
    assert citation_supports(cite("a", s - 5, s + 1), spans, by_id)  # one shared character
    assert not citation_supports(cite("a", s - 5, s), spans, by_id)  # touching is not overlap
    # Another sentence, but its chunk overlaps the support: counts (chunk rule).
    s2, e2 = span_of("a", "In 2014")
    assert citation_supports(cite("a", s2, e2, chunk_id="a [13:80]"), spans, by_id)
    assert not citation_supports(cite("a", 0, 5, chunk_id="a [0:11]"), spans, by_id)
    # Same offsets in another document never support.
    assert not citation_supports(cite("b", 0, 10, chunk_id="b [0:35]"), spans, by_id)


def test_retrieval_rank_uses_overlap_and_metrics():
    spans = locate_support("Intro line. In 2014", DOCS)  # crosses the chunk boundary
    assert spans
    assert first_relevant_rank([2, 1, 0], CHUNKS, spans) == 2  # chunk 1 overlaps first
    assert first_relevant_rank([2], CHUNKS, spans) is None
    assert first_relevant_rank([], CHUNKS, []) is None
    m = retrieval_metrics([1, 2, 4, None])
    assert m == {"hit@1": 0.25, "hit@3": 0.5, "hit@5": 0.75, "mrr": round((1 + 0.5 + 0.25) / 4, 4)}
    assert retrieval_metrics([])["mrr"] is None


def test_percentile_matches_numpy_linear():
    vals = [12.0, 3.5, 80.0, 7.25, 19.0, 5.0, 41.0]
    for q in (0, 50, 95, 100):
        assert percentile(vals, q) == pytest.approx(round(float(np.percentile(vals, q)), 2))
    assert percentile([], 50) is None


# ---------------------------------------------------------------- whole-set scoring


def _rows_and_records():
    rows = [
        Row("q1", "When?", ["2014"], support="In 2014, the inspectorate began a programme."),
        Row("q2", "Custody?", ["custody"], support="It covered custody."),
        Row("q3", "Budget?", ["£5"], support="The hub’s budget is £5."),
        Row("q4", "Weather?", [], unanswerable=True),
        Row("q5", "Capital?", [], unanswerable=True),
    ]
    s1, e1 = span_of("a", "In 2014, the  inspectorate began a programme.")
    s2, e2 = span_of("a", "Intro line.")
    records = [
        # right answer, supporting citation, relevant chunk ranked 2nd by bm25
        {
            "answer": "2014 — “In 2014…”",
            "abstained": False,
            "latency_ms": 10.0,
            "citations": [cite("a", s1, e1, chunk_id="a [13:80]")],
            "best_score": 0.9,
            "retrieved": {"bm25": [0, 1], "dense": [1], "hybrid": [1, 0]},
        },
        # wrong answer citing an unrelated chunk with a corrupt quote
        {
            "answer": "Intro line.",
            "abstained": False,
            "latency_ms": 20.0,
            "citations": [
                cite("a", s2, e2, chunk_id="a [0:11]"),
                cite("a", s2, e2, text="Intro LINE.", chunk_id="a [0:11]", n=2),
            ],
            "best_score": 0.5,
            "retrieved": {"bm25": [2], "dense": [0], "hybrid": [0, 1]},
        },
        # false abstention
        {
            "answer": "The documents don't answer this.",
            "abstained": True,
            "citations": [],
            "latency_ms": 30.0,
            "best_score": 0.2,
            "retrieved": {"bm25": [2], "dense": [2], "hybrid": [2]},
        },
        # correct abstention
        {
            "answer": "The documents don't answer this.",
            "abstained": True,
            "citations": [],
            "latency_ms": 40.0,
            "best_score": 0.1,
            "retrieved": {},
        },
        # should have abstained
        {
            "answer": "Other text.",
            "abstained": False,
            "latency_ms": 50.0,
            "citations": [cite("b", 0, 11, chunk_id="b [0:35]")],
            "best_score": 0.6,
            "retrieved": {},
        },
    ]
    return rows, records


def test_score_records_metrics():
    rows, records = _rows_and_records()
    r = score_records(rows, records, DOCS, CHUNKS)
    assert REQUIRED_KEYS <= set(r)
    assert (r["n"], r["n_answerable"], r["n_unanswerable"]) == (5, 3, 2)
    assert r["answer_accuracy"] == round(1 / 3, 4)
    assert r["false_abstention_rate"] == round(1 / 3, 4)
    assert r["abstention_accuracy"] == 0.5
    assert r["citation_validity"] == 0.75  # 3 of 4 citations quote their span exactly
    assert r["citation_precision"] == round(1 / 3, 4)  # answerable rows: 1 of 3 supports
    assert r["citation_recall"] == round(1 / 3, 4)
    # bm25 ranks: q1 2nd, q2 missed, q3 1st
    assert r["retrieval"]["bm25"] == {
        "hit@1": round(1 / 3, 4),
        "hit@3": round(2 / 3, 4),
        "hit@5": round(2 / 3, 4),
        "mrr": 0.5,
    }
    assert r["retrieval"]["hybrid"]["hit@1"] == round(2 / 3, 4)
    assert r["latency_ms"] == {"p50": 30.0, "p95": 48.0}
    kinds = [(f["id"], f["kind"]) for f in r["failures"]]
    assert kinds == [
        ("q2", "wrong_answer"),
        ("q2", "unsupported_citation"),
        ("q2", "invalid_citation"),
        ("q3", "false_abstention"),
        ("q5", "should_abstain"),
    ]
    f = r["failures"][0]
    assert f["question"] == "Custody?" and f["got"] == "Intro line."
    assert "custody" in f["expected"] and len(f["citations"]) == 2
    assert f["citations"][1]["valid"] is False and f["citations"][0]["supports"] is False
    assert "citation_page_accuracy" not in r  # no row has a page
    json.dumps(r, allow_nan=False)


def test_no_citations_means_validity_one_and_unmeasured_metrics_are_none():
    rows = [Row("u", "Weather?", [], unanswerable=True)]
    records = [{"answer": "no", "abstained": True, "citations": [], "latency_ms": 1.0}]
    r = score_records(rows, records, DOCS, CHUNKS)
    assert r["citation_validity"] == 1.0
    assert r["abstention_accuracy"] == 1.0
    assert r["answer_accuracy"] is None and r["citation_recall"] is None
    assert r["retrieval"]["dense"]["hit@1"] is None


def test_a_lookalike_shown_its_closest_passage_asserts_nothing_but_oos_must_get_none():
    # The closest tier quotes a passage without asserting it: right for a look-alike (nothing
    # asserted), but an out-of-scope question is promised the none tier.
    rows = [
        Row("u", "Weather?", [], unanswerable=True, kind="unanswerable"),
        Row("o", "Cricket?", [], unanswerable=True, kind="oos"),
        Row("o2", "Tennis?", [], unanswerable=True, kind="oos"),
    ]
    closest = {
        "answer": "The documents may not say this directly; the closest passage is ...",
        "abstained": True,
        "tier": "closest",
        "latency_ms": 1.0,
        "citations": [cite("b", 0, 11, chunk_id="b [0:35]")],
    }
    none = {"answer": "no", "abstained": True, "tier": "none", "citations": [], "latency_ms": 1}
    r = score_records(rows, [closest, closest, none], DOCS, CHUNKS)
    assert r["abstention_accuracy"] == 1.0 and r["failures"] == []
    assert r["tiers"]["unanswerable"] == {"answer": 0, "closest": 1, "none": 0}
    assert r["tiers"]["oos"] == {"answer": 0, "closest": 1, "none": 1}
    assert r["lookalike_asserted"] == 0.0 and r["oos_in_none"] == 0.5
    assert r["n_asserted"] == 0 and r["asserted_precision"] is None


def test_support_not_found_counts_as_a_miss():
    rows = [Row("x", "Q?", ["2014"], support="A sentence that no document has.")]
    s, e = span_of("a", "In 2014")
    records = [
        {
            "answer": "In 2014",
            "abstained": False,
            "latency_ms": 1.0,
            "citations": [cite("a", s, e)],
            "retrieved": {"hybrid": [1]},
        }
    ]
    r = score_records(rows, records, DOCS, CHUNKS)
    assert r["support_not_found"] == ["x"]
    assert r["citation_recall"] == 0.0 and r["retrieval"]["hybrid"]["hit@5"] == 0.0


def test_citation_page_accuracy():
    doc = SimpleNamespace(text="Page one text.\n\nPage two fact here.")
    docs = {"p": doc}
    chunks = [
        SimpleNamespace(chunk_id="p p1", doc_id="p", start=0, end=14),
        SimpleNamespace(chunk_id="p p2", doc_id="p", start=16, end=len(doc.text)),
    ]
    rows = [
        Row("g", "Fact?", ["fact"], support="Page two fact here.", page=2),
        Row("h", "Fact again?", ["fact"], support="Page two fact here.", page=2),
    ]

    def c(page):
        return {
            "n": 1,
            "doc_id": "p",
            "start": 16,
            "end": len(doc.text),
            "page": page,
            "quote": doc.text[16:],
            "chunk_id": "p p2",
        }

    records = [
        {"answer": "fact", "abstained": False, "citations": [c(2)], "latency_ms": 1},
        {"answer": "fact", "abstained": False, "citations": [c(3)], "latency_ms": 1},
    ]
    assert score_records(rows, records, docs, chunks)["citation_page_accuracy"] == 0.5
    records[1]["citations"] = []  # no supporting citation: not counted (that is recall)
    assert score_records(rows, records, docs, chunks)["citation_page_accuracy"] == 1.0


def test_threshold_sweep_points():
    ts = sweep_thresholds([0.81239, 0.5, None, float("-inf"), 0.5], configured=0.45)
    assert ts == [0.45, 0.5, 0.8123, 0.8223]
    # floored, not rounded: at 0.9999 a question scoring 0.99996 is still answered
    assert sweep_thresholds([0.99996], configured=0.1) == [0.1, 0.9999, 1.0099]
    many = sweep_thresholds([i / 1000 for i in range(500)], configured=0.3)
    assert len(many) <= 62 and 0.3 in many
    rows = [Row("a", "?", ["yes"]), Row("b", "?", ["yes"]), Row("u", "?", [], unanswerable=True)]
    outcomes = [(False, "yes", 1), (True, "…", 0), (True, "…", 0)]
    p = sweep_point(0.5, rows, outcomes, configured=0.5)
    assert p == {
        "threshold": 0.5,
        "answer_accuracy": 0.5,
        "abstention_accuracy": 1.0,
        "answered_rate": round(1 / 3, 4),
        "configured": True,
    }


def test_gate_failures():
    assert gate_failures(dict(GATE)) == []  # the shipped gate passes its own minimums
    gate = {"answer_accuracy": 0.9, "abstention_accuracy": 0.9, "citation_validity": 1.0}
    good = dict(gate)
    assert gate_failures(good, gate) == []
    bad = dict(good, answer_accuracy=0.5, citation_validity=0.99, abstention_accuracy=None)
    msgs = gate_failures(bad, gate)
    assert len(msgs) == 3
    assert any(m.startswith("answer_accuracy 0.500 < 0.90") for m in msgs)
    assert any("citation_validity" in m for m in msgs)
    assert any("abstention_accuracy not measured" in m for m in msgs)


def test_fusion_gain_gates_hybrid_against_the_better_single_mode():
    from ncpi_qa.evals.metrics import SQUAD_GATE, fusion_gain

    r = {"retrieval": {"bm25": {"hit@1": 0.7}, "dense": {"hit@1": 0.6}, "hybrid": {"hit@1": 0.75}}}
    assert fusion_gain(r) == 0.05
    assert gate_failures(r, {"fusion_gain": 0.01}) == []
    r["retrieval"]["dense"]["hit@1"] = 0.8  # dense alone now beats the fusion
    assert fusion_gain(r) == -0.05
    assert gate_failures(r, {"fusion_gain": 0.01}) == ["fusion_gain -0.050 < 0.01"]
    assert fusion_gain({}) is None
    assert "not measured" in gate_failures({}, {"fusion_gain": 0.01})[0]
    # one answerer, one gate: the three kinds of question and the citation figures
    assert {"HasAns_accuracy", "NoAns_accuracy", "OOS_accuracy", "citation_validity"} <= set(
        SQUAD_GATE
    )
