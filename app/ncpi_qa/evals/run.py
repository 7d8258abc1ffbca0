"""Score the pipeline on a gold question set: answers, abstention, citations, retrieval, latency.

``evaluate(qa, rows)`` runs every question once and returns one JSON-able dict; the scoring
itself (``score_records``) is pure, so it can be tested on hand-made results. ``main`` is the
``ncpi-qa eval`` command. Metric definitions are in evals/README.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ncpi_qa.errors import DatasetError, NcpiError
from ncpi_qa.ingest.text import find_normalized, normalize

# The CI gate (`ncpi-qa eval --gate`): each metric must be at least this.
MIN_ANSWER_ACCURACY = 0.90
MIN_ABSTENTION_ACCURACY = 0.90
MIN_CITATION_VALIDITY = 1.0
MIN_CITATION_RECALL = 0.90
GATE = {
    "answer_accuracy": MIN_ANSWER_ACCURACY,
    "abstention_accuracy": MIN_ABSTENTION_ACCURACY,
    "citation_validity": MIN_CITATION_VALIDITY,
    "citation_recall": MIN_CITATION_RECALL,
}
MODES = ("bm25", "dense", "hybrid")
HIT_KS = (1, 3, 5)
MAX_SWEEP_POINTS = 60
FIELDS = ("id", "question", "answers", "all_of", "support", "unanswerable", "page")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------- dataset


@dataclass
class Row:
    id: str
    question: str
    answers: list[str]
    all_of: list[str] = field(default_factory=list)
    support: str | None = None
    unanswerable: bool = False
    page: int | None = None
    line: int = 0


def _str_list(obj: dict, key: str, bad) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise bad(f"'{key}' must be a list of non-empty strings")
    return value


def parse_row(obj, line: int, path) -> Row:
    """One dataset line as a Row; a DatasetError names the line and what is wrong."""

    def bad(msg: str) -> DatasetError:
        return DatasetError(path, f"line {line}: {msg}")

    if not isinstance(obj, dict):
        raise bad("expected a JSON object")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    for key in ("id", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise bad(f"'{key}' is required and must be a non-empty string")
    if "answers" not in obj:
        raise bad("'answers' is required (a list; empty for unanswerable questions)")
    answers, all_of = _str_list(obj, "answers", bad), _str_list(obj, "all_of", bad)
    support = obj.get("support")
    if support is not None and (not isinstance(support, str) or not support.strip()):
        raise bad("'support' must be a non-empty string (a verbatim quote)")
    unanswerable = obj.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise bad("'unanswerable' must be true or false")
    page = obj.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise bad("'page' must be a positive integer (the PDF page of the support)")
    if unanswerable and (answers or all_of or support or page):
        raise bad(
            "an unanswerable question must have empty 'answers' and no "
            "'all_of', 'support' or 'page'"
        )
    if not unanswerable and not answers:
        raise bad("'answers' is empty; give at least one answer or set \"unanswerable\": true")
    if page is not None and support is None:
        raise bad("'page' needs a 'support' quote (it is the page of that quote)")
    return Row(obj["id"], obj["question"], answers, all_of, support, unanswerable, page, line)


def load_dataset(path: Path) -> list[Row]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(path, f"{type(e).__name__}: {e}") from None
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise DatasetError(
                path, f"line {n}: invalid JSON ({e.msg} at column {e.colno})"
            ) from None
        row = parse_row(obj, n, path)
        if row.id in seen:
            raise DatasetError(
                path, f"line {n}: duplicate id '{row.id}' (first on line {seen[row.id]})"
            )
        seen[row.id] = n
        rows.append(row)
    if not rows:
        raise DatasetError(path, "it holds no questions (one JSON object per line)")
    return rows


def default_dataset() -> Path:
    from ncpi_qa.settings import project_root

    return project_root() / "evals" / "dev.jsonl"


# ---------------------------------------------------------------- scoring (pure)


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


def locate_support(support: str | None, documents) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of the support quote in every document that holds it."""
    if not support:
        return []
    target = normalize(support)
    spans = []
    for doc_id, doc in documents.items():
        if target in normalize(doc.text):  # cheap filter before the offset-exact search
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
        return "(abstain, no citations)"
    text = "any of: " + " | ".join(row.answers)
    return text + (f"; all of: {' | '.join(row.all_of)}" if row.all_of else "")


def score_records(rows: list[Row], records: list[dict], documents, chunks) -> dict:
    """Metrics from one record per row: {answer, abstained, citations, latency_ms, best_score,
    retrieved: {mode: [chunk index, ...]}}. ``documents`` maps doc_id -> object with .text;
    ``chunks`` is the store's chunk list (objects with chunk_id, doc_id, start, end)."""
    chunks_by_id = {c.chunk_id: c for c in chunks}
    n_ans = n_correct = n_false_abst = n_unans = n_abst_ok = 0
    n_cites = n_valid = n_prec_cites = n_supporting = 0
    n_recall_rows = n_recalled = n_page_cites = n_page_ok = 0
    ranks: dict[str, list[int | None]] = {m: [] for m in MODES}
    failures, per_question, not_found = [], [], []
    for row, rec in zip(rows, records, strict=True):
        cites = rec.get("citations") or []
        abstained = bool(rec.get("abstained"))
        spans = locate_support(row.support, documents)
        if row.support and not spans:
            not_found.append(row.id)
        valid = [citation_valid(c, documents) for c in cites]
        supports = [citation_supports(c, spans, chunks_by_id) for c in cites]
        n_cites += len(cites)
        n_valid += sum(valid)
        kinds, correct = [], None
        if row.unanswerable:
            n_unans += 1
            correct = abstained and not cites
            n_abst_ok += correct
            if not correct:
                kinds.append("should_abstain")
        else:
            n_ans += 1
            correct = not abstained and answer_correct(
                rec.get("answer", ""), row.answers, row.all_of
            )
            n_correct += correct
            n_false_abst += abstained
            if abstained:
                kinds.append("false_abstention")
            elif not correct:
                kinds.append("wrong_answer")
            if row.support:
                n_recall_rows += 1
                n_recalled += any(supports)
                n_prec_cites += len(cites)
                n_supporting += sum(supports)
                if cites and not all(supports):
                    kinds.append("unsupported_citation")
                for m in MODES:
                    if m in (rec.get("retrieved") or {}):
                        ranks[m].append(first_relevant_rank(rec["retrieved"][m], chunks, spans))
            if row.page is not None:
                for c, ok in zip(cites, supports, strict=True):
                    if ok:
                        n_page_cites += 1
                        n_page_ok += c.get("page") == row.page
        if not all(valid):
            kinds.append("invalid_citation")
        compact = [
            {
                "n": c.get("n"),
                "doc_id": c.get("doc_id"),
                "page": c.get("page"),
                "start": c.get("start"),
                "end": c.get("end"),
                "chunk_id": c.get("chunk_id"),
                "quote": c.get("quote"),
                "valid": v,
                "supports": s,
            }
            for c, v, s in zip(cites, valid, supports, strict=True)
        ]
        for kind in kinds:
            expected = {
                "unsupported_citation": f"support: {row.support}",
                "invalid_citation": "each quote == document text[start:end]",
            }.get(kind, _expected(row))
            failures.append(
                {
                    "id": row.id,
                    "question": row.question,
                    "kind": kind,
                    "expected": expected,
                    "got": rec.get("answer", ""),
                    "citations": compact,
                }
            )
        per_question.append(
            {
                "id": row.id,
                "unanswerable": row.unanswerable,
                "abstained": abstained,
                "correct": bool(correct),
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
        )
    latencies = [r["latency_ms"] for r in records if r.get("latency_ms") is not None]
    result = {
        "n": len(rows),
        "n_answerable": n_ans,
        "n_unanswerable": n_unans,
        "answer_accuracy": _ratio(n_correct, n_ans),
        "false_abstention_rate": _ratio(n_false_abst, n_ans),
        "abstention_accuracy": _ratio(n_abst_ok, n_unans),
        "citation_validity": _ratio(n_valid, n_cites) if n_cites else 1.0,
        "citation_precision": _ratio(n_supporting, n_prec_cites),
        "citation_recall": _ratio(n_recalled, n_recall_rows),
        "retrieval": {m: retrieval_metrics(ranks[m]) for m in MODES},
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)},
        "failures": failures,
        "n_citations": n_cites,
        "support_not_found": not_found,
        "latencies_ms": latencies,
        "per_question": per_question,
    }
    if any(r.page is not None for r in rows):
        result["citation_page_accuracy"] = _ratio(n_page_ok, n_page_cites)
    return result


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
    return {
        "threshold": threshold,
        "answer_accuracy": _ratio(
            sum(not o[0] and answer_correct(o[1], r.answers, r.all_of) for r, o in ans), len(ans)
        ),
        "abstention_accuracy": _ratio(sum(o[0] and not o[2] for o in una), len(una)),
        "answered_rate": _ratio(sum(not o[0] for o in outcomes), len(outcomes)),
        "configured": threshold == configured,
    }


# ---------------------------------------------------------------- running


def evaluate(qa, rows: list[Row], k: int | None = None, log=None) -> dict:
    """Ask every question once (hybrid, the app's path) and score; also rank chunks with each
    retrieval mode and replay the answerer at each sweep threshold on the same passages."""
    log = log or _log
    store, answerer = qa.store, qa.answerer
    k_ans = k or qa.settings.top_k
    k_ret = max(max(HIT_KS), k_ans)
    qa.retriever.embed_query("warm-up")  # one-time costs stay out of the latency figures
    records, replay = [], []
    t0 = time.perf_counter()
    for i, row in enumerate(rows, start=1):
        try:
            r = qa.ask(row.question, k=k_ans).to_dict()
        except NcpiError as e:  # e.g. a question over max_question_chars
            raise NcpiError(
                f"Question '{row.id}' (dataset line {row.line}) cannot be asked: {e}"
            ) from None
        q = r["question"]
        qvec = qa.retriever.embed_query(q)
        passages = [h.index for h in qa.retriever.search(q, k_ans, mode="hybrid", qvec=qvec)]
        base = answerer.answer(q, qvec, passages)
        best = base.get("best_score")
        best = float(best) if best is not None and math.isfinite(best) else None
        records.append(
            {
                "answer": r["answer"],
                "abstained": r["abstained"],
                "citations": r["citations"],
                "latency_ms": r["timings_ms"]["total"],
                "best_score": None if best is None else round(best, 4),
                "retrieved": {
                    m: [h.index for h in qa.retriever.search(q, k_ret, mode=m, qvec=qvec)]
                    for m in MODES
                },
            }
        )
        replay.append((q, qvec, passages, "best_score" in base))
        if i % 10 == 0 or i == len(rows):
            log(f"eval: {i}/{len(rows)} questions ({time.perf_counter() - t0:.1f}s)")
    result = score_records(rows, records, store.documents, store.chunks)
    configured = float(answerer.threshold)
    sweep = []
    if all(has for *_, has in replay):
        saved = answerer.threshold
        try:
            for t in sweep_thresholds([r["best_score"] for r in records], configured):
                answerer.threshold = t
                outcomes = []
                for q, qvec, passages, _ in replay:
                    a = answerer.answer(q, qvec, passages)
                    outcomes.append((bool(a["abstained"]), a["answer"], len(a["citations"])))
                sweep.append(sweep_point(t, rows, outcomes, configured))
        finally:
            answerer.threshold = saved
    result.update(
        {
            "threshold": configured,
            "threshold_sweep": sweep,
            "k": k_ans,
            "retrieval_k": k_ret,
            "model": store.manifest.get("model"),
            "n_chunks": len(store.chunks),
            "n_documents": len(store.documents),
        }
    )
    return result


def gate_failures(result: dict) -> list[str]:
    """Why the result fails the CI gate (empty when it passes); an unmeasured metric fails."""
    out = []
    for key, minimum in GATE.items():
        v = result.get(key)
        if v is None:
            out.append(f"{key} not measured (the dataset has no questions for it)")
        elif v < minimum:
            out.append(f"{key} {v:.3f} < {minimum:.2f}")
    return out


def main(args, settings) -> int:
    """`ncpi-qa eval`: returns the exit code (1 when --gate fails)."""
    from ncpi_qa.index.embedding import get_embedder
    from ncpi_qa.index.store import build_index, current_generation
    from ncpi_qa.qa.pipeline import QA

    path = Path(args.dataset) if getattr(args, "dataset", None) else default_dataset()
    rows = load_dataset(path)  # fail fast, before loading the model
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the result
        embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
        if current_generation(settings.store_dir) is None or settings.corpus_dir.is_dir():
            report = build_index(settings, embedder=embedder)  # a no-op when up to date
            if not report.up_to_date:
                _log(report.summary())
        qa = QA(settings, embedder=embedder)
        result = evaluate(qa, rows, k=getattr(args, "k", None))
        result["dataset"] = str(path)
        if getattr(args, "report", None):
            from ncpi_qa.evals.report import write_report

            _log(f"Report written to {write_report(result, Path(args.report))}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        from ncpi_qa.evals.report import format_table

        print(format_table(result))
    if not getattr(args, "gate", False):
        return 0
    failed = gate_failures(result)
    for msg in failed:
        _log(f"gate failed: {msg}")
    if not failed:
        _log("gate passed")
    return 1 if failed else 0
