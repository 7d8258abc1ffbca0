"""Run the pipeline on a gold question set and score it; ``main`` is `ncpi-qa eval`."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from pathlib import Path

from ncpi_qa.errors import NcpiError
from ncpi_qa.evals.dataset import Row, load_dataset
from ncpi_qa.evals.metrics import (
    HIT_KS,
    MODES,
    gate_failures,
    score_records,
    sweep_point,
    sweep_thresholds,
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def default_dataset() -> Path:
    from ncpi_qa.settings import project_root

    return project_root() / "evals" / "dev.jsonl"


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
