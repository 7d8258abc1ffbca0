"""Scoring (pure): answers, abstention, citations, retrieval ranks and latency percentiles from
one record per question. Metric definitions are in evals/README.md."""

from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache

from ncpi_qa.evals.dataset import Row
from ncpi_qa.evals.promise import promise_figures, tier_of
from ncpi_qa.ingest.text import find_normalized, normalize

# The CI gates (`ncpi-qa eval --gate`), each a little under what the shipped answerer measured
# on text it was not fitted on (evals/README.md, "Tiers"), so they catch a regression; they
# are not the targets, several of which are not met (the README says which).
#
# The seed page's dev set: the tiers' promise (the answer tier asserts only 2 of the 57 at
# the fitted threshold, so its precision floor only guards against a collapse), the right
# sentence shown first, nothing asserted for unanswerable questions, exact citations.
GATE = {
    "asserted_precision": 0.45,
    "right_first": 0.50,
    "abstention_accuracy": 0.90,
    "citation_validity": 1.0,
    "citation_recall": 0.52,
}
# The SQuAD gate on CI's fixed sample (300 questions, seed 0) of the report articles (never
# fitted or calibrated on), all three kinds of question; "fusion_gain" is hybrid hit@1 minus
# the better of BM25's and dense's.
SQUAD_GATE = {
    "asserted_precision": 0.68,
    "right_first": 0.66,
    "HasAns_accuracy": 0.27,
    "NoAns_accuracy": 0.88,
    "OOS_accuracy": 0.97,
    "oos_in_none": 0.97,
    "citation_validity": 1.0,
    "citation_precision": 0.90,
    "citation_recall": 0.66,
    "fusion_gain": 0.01,
}
# The policy-prose gate (`ncpi-qa eval --domain ... --part report --gate`) on the set's report
# pages (never fitted or calibrated on): the floors for policy text.
DOMAIN_GATE = {
    "asserted_precision": 0.90,
    "right_first": 0.80,
    "oos_in_none": 0.98,
    "citation_validity": 1.0,
}
MODES = ("bm25", "dense", "rrf", "hybrid")
HIT_KS = (1, 3, 5)
MAX_SWEEP_POINTS = 60


def answer_correct(answer: str, answers: list[str], all_of: list[str] = ()) -> bool:
    """Normalized answer contains any of ``answers`` and every one of ``all_of``."""
    a = normalize(answer or "")
    return any(normalize(x) in a for x in answers) and all(normalize(x) in a for x in all_of)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Half-open spans [a0, a1) and [b0, b1) share at least one character."""
    return a[0] < b[1] and b[0] < a[1]


def citation_valid(c: dict, documents) -> bool:
    """The quote is exactly documents[doc_id].text[start:end] (and that span is non-empty)."""
    doc = documents.get(c.get("doc_id"))
    s, e = c.get("start"), c.get("end")
    if doc is None or not isinstance(s, int) or not isinstance(e, int):
        return False
    return 0 <= s < e <= len(doc.text) and doc.text[s:e] == c.get("quote")


@lru_cache(maxsize=64)
def _normalized(text: str) -> str:
    return normalize(text)


def locate_support(support: str | None, documents) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of the support quote in every document that holds it."""
    if not support:
        return []
    target = normalize(support)
    spans = []
    for doc_id, doc in documents.items():
        if target in _normalized(doc.text):  # cheap filter before the offset-exact search
            span = find_normalized(doc.text, support)
            if span:
                spans.append((doc_id, span[0], span[1]))
    return spans


def citation_supports(c: dict, spans, chunks_by_id: dict) -> bool:
    """The cited span overlaps the support, or the cited chunk overlaps it (same document)."""
    cs, ce = c.get("start", -1), c.get("end", -1)
    chunk = chunks_by_id.get(c.get("chunk_id"))
    for doc_id, s, e in spans:
        if c.get("doc_id") == doc_id and overlaps((cs, ce), (s, e)):
            return True
        if (
            chunk is not None
            and chunk.doc_id == doc_id
            and overlaps((chunk.start, chunk.end), (s, e))
        ):
            return True
    return False


def first_relevant_rank(chunk_indices: list[int], chunks, spans) -> int | None:
    """1-based rank of the first retrieved chunk whose [start, end) overlaps the support."""
    for rank, i in enumerate(chunk_indices, start=1):
        c = chunks[i]
        if any(c.doc_id == d and overlaps((c.start, c.end), (s, e)) for d, s, e in spans):
            return rank
    return None


def retrieval_metrics(ranks: list[int | None]) -> dict:
    n = len(ranks)
    out = {f"hit@{k}": _ratio(sum(r is not None and r <= k for r in ranks), n) for k in HIT_KS}
    out["mrr"] = _ratio(sum(1.0 / r for r in ranks if r), n)
    return out


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return None
    v = sorted(values)
    pos = (len(v) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(v[lo] + (v[hi] - v[lo]) * (pos - lo), 2)


def _ratio(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _expected(row: Row) -> str:
    if row.unanswerable:
        return "(nothing asserted: the closest or none tier)"
    text = "any of: " + " | ".join(row.answers)
    return text + (f"; all of: {' | '.join(row.all_of)}" if row.all_of else "")


def score_records(rows: list[Row], records: list[dict], documents, chunks) -> dict:
    """Metrics from one record per row: {answer, abstained, tier, citations, latency_ms,
    best_score, forced_answer, retrieved: {mode: [chunk index, ...]}}. ``documents`` maps
    doc_id -> object with .text; ``chunks`` is the store's chunk list (objects with chunk_id,
    doc_id, start, end)."""
    chunks_by_id = {c.chunk_id: c for c in chunks}
    n: Counter[str] = Counter()  # the counts the ratios are made of
    ranks: dict[str, list[int | None]] = {m: [] for m in MODES}
    failures, per_question, not_found = [], [], []
    for row, rec in zip(rows, records, strict=True):
        cites = rec.get("citations") or []
        spans = locate_support(row.support, documents)
        if row.support and not spans:
            not_found.append(row.id)
        valid = [citation_valid(c, documents) for c in cites]
        supports = [citation_supports(c, spans, chunks_by_id) for c in cites]
        n["cites"] += len(cites)
        n["valid"] += sum(valid)
        correct, kinds = _judge(row, rec, cites, supports, n)
        if not row.unanswerable and row.support:
            for m in MODES:
                if m in (rec.get("retrieved") or {}):
                    ranks[m].append(first_relevant_rank(rec["retrieved"][m], chunks, spans))
        if not all(valid):
            kinds.append("invalid_citation")
        failures += _failures(row, rec, kinds, _compact(cites, valid, supports))
        per_question.append(_question(row, rec, cites, correct, chunks, spans))
    return _summary(rows, records, n, ranks, failures, per_question, not_found)


def _judge(
    row: Row, rec: dict, cites: list, supports: list[bool], n: Counter
) -> tuple[bool, list[str]]:
    """(right?, the kinds of failure so far) for one answer, counting into ``n``: an
    unanswerable row is right when nothing is asserted (closest or none tier)."""
    abstained = bool(rec.get("abstained"))
    kinds = []
    if row.unanswerable:
        n["unans"] += 1
        correct = abstained
        n["abst_ok"] += correct
        if not correct:
            kinds.append("should_abstain")
        return correct, kinds
    n["ans"] += 1
    correct = not abstained and answer_correct(rec.get("answer", ""), row.answers, row.all_of)
    n["correct"] += correct
    n["false_abst"] += abstained
    if abstained:
        kinds.append("false_abstention")
    elif not correct:
        kinds.append("wrong_answer")
    if row.support:
        n["recall_rows"] += 1
        n["recalled"] += any(supports)
        n["prec_cites"] += len(cites)
        n["supporting"] += sum(supports)
        if cites and not all(supports):
            kinds.append("unsupported_citation")
    if row.page is not None:
        for c, ok in zip(cites, supports, strict=True):
            if ok:
                n["page_cites"] += 1
                n["page_ok"] += c.get("page") == row.page
    return correct, kinds


def _compact(cites: list, valid: list[bool], supports: list[bool]) -> list[dict]:
    keys = ("n", "doc_id", "page", "start", "end", "chunk_id", "quote")
    return [
        {**{k: c.get(k) for k in keys}, "valid": v, "supports": s}
        for c, v, s in zip(cites, valid, supports, strict=True)
    ]


def _failures(row: Row, rec: dict, kinds: list[str], compact: list[dict]) -> list[dict]:
    out = []
    for kind in kinds:
        expected = {
            "unsupported_citation": f"support: {row.support}",
            "invalid_citation": "each quote == document text[start:end]",
        }.get(kind, _expected(row))
        out.append(
            {
                "id": row.id,
                "question": row.question,
                "kind": kind,
                "expected": expected,
                "got": rec.get("answer", ""),
                "citations": compact,
            }
        )
    return out


def _question(row: Row, rec: dict, cites: list, correct, chunks, spans) -> dict:
    """One row's line of ``per_question`` (the tiers' promise and the reports read these)."""
    forced = rec.get("forced_answer")
    return {
        "id": row.id,
        "unanswerable": row.unanswerable,
        "kind": row.kind or ("unanswerable" if row.unanswerable else "answerable"),
        "abstained": bool(rec.get("abstained")),
        "tier": tier_of(rec),
        "correct": bool(correct),
        "confidence": rec.get("best_score"),
        "forced_right": (not row.unanswerable)
        and answer_correct(
            rec.get("answer", "") if forced is None else forced, row.answers, row.all_of
        ),
        "first_right": (not row.unanswerable)
        and bool(cites)
        and answer_correct(cites[0].get("quote", ""), row.answers, row.all_of),
        "best_score": rec.get("best_score"),
        "latency_ms": rec.get("latency_ms"),
        "n_citations": len(cites),
        "ranks": {
            m: first_relevant_rank(rec["retrieved"][m], chunks, spans)
            for m in (rec.get("retrieved") or {})
        }
        if row.support
        else {},
    }


def _summary(rows, records, n: Counter, ranks, failures, per_question, not_found) -> dict:
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    result = {
        "n": len(rows),
        "n_answerable": n["ans"],
        "n_unanswerable": n["unans"],
        "answer_accuracy": _ratio(n["correct"], n["ans"]),
        "false_abstention_rate": _ratio(n["false_abst"], n["ans"]),
        "abstention_accuracy": _ratio(n["abst_ok"], n["unans"]),
        "citation_validity": _ratio(n["valid"], n["cites"]) if n["cites"] else 1.0,
        "citation_precision": _ratio(n["supporting"], n["prec_cites"]),
        "citation_recall": _ratio(n["recalled"], n["recall_rows"]),
        "retrieval": {m: retrieval_metrics(ranks[m]) for m in MODES},
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "failures": failures,
        "n_citations": n["cites"],
        "support_not_found": not_found,
        "latencies_ms": latencies,
        "per_question": per_question,
    }
    if any(r.page is not None for r in rows):
        result["citation_page_accuracy"] = _ratio(n["page_ok"], n["page_cites"])
    if any(r.kind for r in rows):  # SQuAD: the three kinds of question, apart
        result.update(kind_accuracies(per_question))
    result.update(promise_figures(per_question))
    return result


KIND_KEYS = {"answerable": "HasAns", "unanswerable": "NoAns", "oos": "OOS"}


def kind_accuracies(per_question: list[dict]) -> dict:
    """HasAns (answered right in the answer tier), NoAns (a look-alike not asserted) and OOS
    (out of scope not asserted; ``oos_in_none`` says how many got the none tier)."""
    out = {}
    for kind, key in KIND_KEYS.items():
        qs = [q for q in per_question if q["kind"] == kind]
        out[f"{key}_accuracy"] = _ratio(sum(q["correct"] for q in qs), len(qs))
        out[f"n_{key}"] = len(qs)
    return out


def sweep_thresholds(best_scores: list[float | None], configured: float) -> list[float]:
    """Thresholds from the data: each question's best score (floored to 4 decimals, so that
    question is still answered there), one just above the highest, and the configured one."""
    vals = sorted(
        {math.floor(b * 1e4) / 1e4 for b in best_scores if b is not None and math.isfinite(b)}
    )
    if len(vals) > MAX_SWEEP_POINTS:
        step = (len(vals) - 1) / (MAX_SWEEP_POINTS - 1)
        vals = sorted({vals[round(i * step)] for i in range(MAX_SWEEP_POINTS)})
    if vals:
        vals.append(round(vals[-1] + 0.01, 4))
    return sorted(set(vals) | {configured})


def sweep_point(
    threshold: float, rows: list[Row], outcomes: list[tuple[bool, str, int]], configured: float
) -> dict:
    """Accuracies if the answerer ran at ``threshold``; outcomes: (abstained, answer, n_cites)."""
    ans = [(r, o) for r, o in zip(rows, outcomes, strict=True) if not r.unanswerable]
    una = [o for r, o in zip(rows, outcomes, strict=True) if r.unanswerable]
    kinds = {}
    for kind, key in list(KIND_KEYS.items())[1:]:
        ks = [o for r, o in zip(rows, outcomes, strict=True) if r.kind == kind]
        if ks:
            kinds[f"{key}_accuracy"] = _ratio(sum(o[0] for o in ks), len(ks))
    return {
        **kinds,
        "threshold": threshold,
        "answer_accuracy": _ratio(
            sum(not o[0] and answer_correct(o[1], r.answers, r.all_of) for r, o in ans), len(ans)
        ),
        "abstention_accuracy": _ratio(sum(o[0] for o in una), len(una)),
        "answered_rate": _ratio(sum(not o[0] for o in outcomes), len(outcomes)),
        "configured": threshold == configured,
    }


def fusion_gain(result: dict) -> float | None:
    """Hybrid hit@1 minus the better single mode's (None when not measured)."""
    r = result.get("retrieval") or {}
    try:
        best_single = max(r["bm25"]["hit@1"], r["dense"]["hit@1"])
        return round(r["hybrid"]["hit@1"] - best_single, 4)
    except (KeyError, TypeError):
        return None


def gate_failures(result: dict, gate: dict[str, float] | None = None) -> list[str]:
    """Why the result fails the CI gate (empty when it passes); an unmeasured metric fails."""
    out = []
    for key, minimum in (GATE if gate is None else gate).items():
        v = fusion_gain(result) if key == "fusion_gain" else result.get(key)
        if v is None:
            out.append(f"{key} not measured (the dataset has no questions for it)")
        elif v < minimum:
            out.append(f"{key} {v:.3f} < {minimum:.2f}")
    return out
