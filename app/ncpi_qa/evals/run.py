"""Run the pipeline on a gold question set and score it; ``main`` is `ncpi-qa eval`."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.errors import NcpiError
from ncpi_qa.evals.dataset import Row, load_dataset
from ncpi_qa.evals.metrics import (
    HIT_KS,
    gate_failures,
    score_records,
    sweep_point,
    sweep_thresholds,
)


@dataclass(frozen=True)
class EvalOptions:
    """What `ncpi-qa eval` was asked to do (the command line builds it from its flags)."""

    dataset: Path | None = None  # a gold set (evals/*.jsonl); None: evals/dev.jsonl
    json: bool = False  # print the result as JSON (else a table)
    report: Path | None = None  # write an HTML report here
    k: int | None = None  # passages to retrieve (None: settings.top_k)
    gate: bool = False  # exit 1 under the CI gates
    followups: Path | None = None  # a follow-up set instead (evals/followups.py)
    squad: Path | None = None  # SQuAD v2 file or folder: its articles are the corpus
    no_oos: bool = False  # SQuAD: index every article (none held out as out of scope)
    part: str | None = None  # the split part: SQuAD fit|calib|report, --domain fit|report
    titles: tuple[str, ...] | None = None  # SQuAD: only these articles
    articles: int | None = None  # SQuAD: only the first N articles
    limit: int | None = None  # SQuAD: a fixed random sample of N questions
    seed: int = 0  # the sample's seed
    work: Path | None = None  # scratch folder for the SQuAD / policy-prose index
    domain: Path | None = None  # the policy-prose set (evals/domain.py) instead


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def default_dataset() -> Path:
    from ncpi_qa.settings import project_root

    return project_root() / "evals" / "dev.jsonl"


def evaluate(qa, rows: list[Row], k: int | None = None, log=None) -> dict:
    """Ask every question once, the app's way, and score the answers; the retrieval figures
    and the threshold sweep reuse that one answer's rankings and candidates."""
    log = log or _log
    store, answerer = qa.store, qa.answerer
    k_ans = k or qa.settings.top_k
    qa.embed("warm-up")  # one-time costs stay out of the latency figures
    records, replay = [], []
    t0 = time.perf_counter()
    for i, row in enumerate(rows, start=1):
        record, again = _ask(qa, row, k_ans)
        records.append(record)
        replay.append(again)
        if i % 50 == 0 or i == len(rows):
            log(f"eval: {i}/{len(rows)} questions ({time.perf_counter() - t0:.1f}s)")
    result = score_records(rows, records, store.documents, store.chunks)
    configured = float(answerer.threshold)
    result.update(
        {
            "threshold": configured,
            "threshold_sweep": _sweep(answerer, rows, records, replay, configured),
            "k": k_ans,
            "retrieval_k": max(HIT_KS),
            "fusion_dense_weight": qa.retriever.dense_weight,
            "model": store.manifest.model,
            "n_chunks": len(store.chunks),
            "n_documents": len(store.documents),
        }
    )
    return result


def _ask(qa, row: Row, k: int) -> tuple[dict, tuple]:
    """One question asked: its record for ``score_records``, and what the threshold sweep
    decides again (the profile, the candidates, the answerability)."""
    from ncpi_qa.qa.question import analyse

    try:
        a = qa.ask(row.question, k=k)
    except NcpiError as e:  # e.g. a question over max_question_chars
        raise NcpiError(
            f"Question '{row.id}' (dataset line {row.line}) cannot be asked: {e}"
        ) from None
    best = a.best_score
    best = float(best) if best is not None and math.isfinite(best) else None
    forced = qa.answerer.decide(
        analyse(a.question), a.candidates, float("inf"), threshold=float("-inf")
    )  # what the answer tier would say at any threshold: the risk-coverage curve's
    record = {
        "answer": a.text,
        "abstained": a.abstained,
        "tier": a.tier,
        "forced_answer": forced.text if a.candidates else None,
        "citations": [c.to_dict() for c in a.citations],
        "latency_ms": a.timings_ms.get("total"),
        "best_score": None if best is None else round(best, 4),
        "retrieved": {m: r[: max(HIT_KS)] for m, r in a.rankings.items()},
    }
    return record, (analyse(a.question), a.candidates, a.best_score)


def _sweep(answerer, rows: list[Row], records: list[dict], replay: list, configured: float):
    """The answers decided again at each threshold (the risk-coverage curve)."""
    sweep = []
    for t in sweep_thresholds([r["best_score"] for r in records], configured):
        outcomes = []
        for profile, candidates, answerability in replay:
            score = answerability if answerability is not None else float("-inf")
            d = answerer.decide(profile, candidates, score, t)
            outcomes.append((d.declined, d.text, len(d.citations)))
        sweep.append(sweep_point(t, rows, outcomes, configured))
    return sweep


def _squad_rows(opts: EvalOptions, settings, log):
    """The SQuAD runner: the chosen articles indexed together in a scratch store."""
    import hashlib

    from ncpi_qa.evals import squad
    from ncpi_qa.index.embedding import get_embedder
    from ncpi_qa.settings import project_root

    path = Path(opts.squad)
    dev = squad.load_dev(path) if path.is_dir() else squad.load_squad(path)
    articles = squad.select(dev, part=opts.part, titles=opts.titles, n_articles=opts.articles)
    if not articles:
        raise NcpiError("No SQuAD articles selected: check --part, --titles and --articles.")
    held = []
    if not opts.no_oos:
        articles, held = squad.scope_split(articles)
    rows = squad.to_rows(articles, limit=opts.limit, seed=opts.seed, oos=held)
    key = hashlib.sha1("\n".join(a.title for a in articles).encode()).hexdigest()[:10]
    work = opts.work or project_root() / "build" / "squad-eval" / key
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    log(
        f"SQuAD: {len(articles)} articles indexed, {len(held)} held out (their questions out "
        f"of scope), {len(rows)} questions; index in {work}"
    )
    return rows, squad.build_store(articles, Path(work), settings, embedder, log=log), embedder


def _domain_rows(opts: EvalOptions, settings, log):
    """The policy-prose runner: the set's pages and the seed page indexed in a scratch store,
    the questions of the chosen part (evals/domain.py)."""
    from ncpi_qa.evals import domain
    from ncpi_qa.index.embedding import get_embedder
    from ncpi_qa.settings import project_root

    part = opts.part if opts.part in domain.PARTS else None
    if opts.part and part is None:
        raise NcpiError(f"--domain takes --part {' or '.join(domain.PARTS)}, not {opts.part}")
    rows = domain.load_rows(Path(opts.domain), part)
    work = Path(opts.work or project_root() / "build" / "domain-eval")
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    extra = domain.seed_pages(settings)
    log(f"Policy prose: {len(rows)} questions ({part or 'all'} pages); index in {work}")
    s = domain.build_store(Path(opts.domain), work, settings, extra, embedder, log=log)
    return rows, s, embedder


def main(opts: EvalOptions, settings) -> int:
    """`ncpi-qa eval`: returns the exit code (1 when --gate fails)."""
    from ncpi_qa.evals.metrics import DOMAIN_GATE, GATE, SQUAD_GATE, fusion_gain
    from ncpi_qa.qa.pipeline import QA

    squad_file = opts.squad
    if opts.followups:
        return _followups_main(opts, settings)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the result
        if squad_file:
            rows, settings, embedder = _squad_rows(opts, settings, _log)
            source = f"{squad_file} ({opts.part or 'all'} articles)"
        elif opts.domain:
            rows, settings, embedder = _domain_rows(opts, settings, _log)
            source = f"{opts.domain} ({opts.part or 'all'} pages)"
        else:
            path = Path(opts.dataset) if opts.dataset else default_dataset()
            rows, embedder, source = load_dataset(path), None, str(path)
        qa = QA(settings, embedder=embedder)  # the index must exist: `ncpi-qa index`
        result = evaluate(qa, rows, k=opts.k)
        result["dataset"] = source
        result["gate"] = SQUAD_GATE if squad_file else DOMAIN_GATE if opts.domain else GATE
        if squad_file:
            result["fusion_gain"] = fusion_gain(result)
        if opts.report:
            from ncpi_qa.evals.report import write_report

            _log(f"Report written to {write_report(result, Path(opts.report))}")
    if opts.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        from ncpi_qa.evals.report import format_table

        print(format_table(result))
    return _gate_exit(opts, result, result["gate"])


def _followups_main(opts: EvalOptions, settings) -> int:
    """`ncpi-qa eval --followups FILE [--squad ...]`: the follow-up set (evals/followups.py)
    over the configured index, or over the SQuAD articles chosen as for the SQuAD runner."""
    from ncpi_qa.evals.followups import (
        FOLLOWUP_GATE,
        evaluate_followups,
        format_followups,
        load_followups,
    )
    from ncpi_qa.qa.pipeline import QA

    squad_file = opts.squad
    with contextlib.redirect_stdout(sys.stderr):
        pairs = load_followups(Path(opts.followups))
        embedder = None
        if squad_file:
            _, settings, embedder = _squad_rows(opts, settings, _log)
        qa = QA(settings, embedder=embedder)
        result = evaluate_followups(qa, pairs, log=_log)
        result["dataset"] = str(opts.followups)
        result["index"] = (
            f"{squad_file} ({opts.part or 'chosen'} articles)"
            if squad_file
            else (str(settings.store_dir))
        )
        result["gate"] = FOLLOWUP_GATE
    if opts.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(format_followups(result))
    return _gate_exit(opts, result, FOLLOWUP_GATE)


def _gate_exit(opts: EvalOptions, result: dict, gate: dict) -> int:
    """0, or (with --gate) 1 when a figure is under its gate, each failure logged."""
    if not opts.gate:
        return 0
    failed = gate_failures(result, gate)
    for msg in failed:
        _log(f"gate failed: {msg}")
    if not failed:
        _log("gate passed")
    return 1 if failed else 0
