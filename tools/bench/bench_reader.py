"""The reader's forward pass, fp32 against dynamic int8 (settings.reader_int8), on the
candidates it reads in the answer path: 12 (heading, previous sentence, sentence) items per
question, taken from the shipped corpus, for each question of evals/dev.jsonl.

Both readers are loaded in this process and timed alternately question by question (so a
noisy machine slows both alike); the figures are p50/p95 ms per 12-candidate read and their
ratio, and how alike the two read: the same best candidate, logit and span differences.

    python tools/bench/bench_reader.py [--questions N] [--candidates 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def corpus_items(corpus: Path) -> list[tuple[str, str, str]]:
    """Every sentence of the corpus as the reader sees it: (section, previous, sentence)."""
    from ncpi_qa.index.store import chunk_for_index
    from ncpi_qa.ingest.documents import assign_ids, corpus_files, load_document
    from ncpi_qa.settings import Settings

    settings, items = Settings(corpus_dir=corpus), []
    files = corpus_files(corpus)
    ids = assign_ids(files, corpus)
    for path in files:
        doc = load_document(path, ids[path], path.read_bytes())
        prev = ""
        for chunk in chunk_for_index(doc, settings):
            for s, e in chunk.sentences:
                items.append((chunk.section, prev, doc.text[s:e]))
                prev = doc.text[s:e]
    return items


def _pct(xs: list[float]) -> dict:
    return {"p50": round(float(np.percentile(xs, 50)), 2),
            "p95": round(float(np.percentile(xs, 95)), 2), "n": len(xs)}  # fmt: skip


def measure(questions: list[str], items: list, candidates: int = 12, seed: int = 0) -> dict:
    """Time fp32 and int8 reads of the same candidates, alternately, and compare them."""
    import torch

    from ncpi_qa.qa.reader import Reader

    t0 = time.perf_counter()
    fp32 = Reader(int8=False)
    t1 = time.perf_counter()
    int8 = Reader(int8=True)
    t2 = time.perf_counter()
    rng = random.Random(seed)
    ms = {"fp32": [], "int8": []}
    same_top, spans_same, logit_diffs = 0, 0, []
    fp32.read(questions[0], items[:candidates])  # warm both
    int8.read(questions[0], items[:candidates])
    for i, q in enumerate(questions):
        batch = rng.sample(items, min(candidates, len(items)))
        order = (("fp32", fp32), ("int8", int8)) if i % 2 == 0 else (("int8", int8), ("fp32", fp32))
        out = {}
        for name, reader in order:
            t = time.perf_counter()
            out[name] = reader.read(q, batch)
            ms[name].append((time.perf_counter() - t) * 1000)
        a, b = out["fp32"], out["int8"]
        same_top += int(np.argmax([r.logit for r in a]) == np.argmax([r.logit for r in b]))
        spans_same += sum(x.span == y.span for x, y in zip(a, b, strict=True))
        logit_diffs += [abs(x.logit - y.logit) for x, y in zip(a, b, strict=True)]
    f, q8 = _pct(ms["fp32"]), _pct(ms["int8"])
    return {
        "candidates": candidates,
        "questions": len(questions),
        "torch_threads": torch.get_num_threads(),
        "fp32_ms": f,
        "int8_ms": q8,
        "int8_vs_fp32_p50": round(q8["p50"] / f["p50"], 3),
        "int8_vs_fp32_p95": round(q8["p95"] / f["p95"], 3),
        "load_s": {"fp32": round(t1 - t0, 2), "int8": round(t2 - t1, 2)},
        "same_best_candidate": round(same_top / len(questions), 3),
        "same_span": round(spans_same / (len(questions) * candidates), 3),
        "logit_abs_diff": {
            "mean": round(float(np.mean(logit_diffs)), 3),
            "max": round(float(np.max(logit_diffs)), 3),
        },  # fmt: skip
    }


def run(n_questions: int = 57, candidates: int = 12) -> dict:
    from ncpi_qa.evals.dataset import json_lines

    rows = json_lines(ROOT / "evals" / "dev.jsonl")
    questions = [r["question"] for _, r in rows][:n_questions]
    return measure(questions, corpus_items(ROOT / "corpus"), candidates)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", type=int, default=57)
    p.add_argument("--candidates", type=int, default=12)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    import os

    load = os.getloadavg()
    res = {"load_avg_at_start": [round(x, 2) for x in load], **run(args.questions, args.candidates)}
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        f, q = res["fp32_ms"], res["int8_ms"]
        print(f"reader, {res['candidates']} candidates, {res['questions']} questions, "
              f"load {res['load_avg_at_start']}")  # fmt: skip
        print(f"  fp32 p50/p95 ms {f['p50']} / {f['p95']}   int8 {q['p50']} / {q['p95']}   "
              f"int8/fp32 {res['int8_vs_fp32_p50']} / {res['int8_vs_fp32_p95']}")  # fmt: skip
        print(f"  same best candidate {res['same_best_candidate']}, same span "
              f"{res['same_span']}, |logit diff| {res['logit_abs_diff']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
