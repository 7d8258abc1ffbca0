"""The reader's forward pass, fp32 against bf16 (settings.precision) and dynamic int8
(settings.reader_int8), on the candidates it reads in the answer path: 12 (heading, previous
sentence, sentence) items per question, taken from the shipped corpus, for each question of
evals/dev.jsonl.

The three readers are loaded in this process and timed round-robin question by question (so
a noisy machine slows all alike); the figures are p50/p95 ms per 12-candidate read and each
one's ratio to fp32, and how alike they read: the same best candidate, logit and span
differences.

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
    from ncpi_qa.index.plan import chunk_for_index
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


VARIANTS = {  # name -> Reader keyword arguments; "fp32" is the reference
    "fp32": {"int8": False, "precision": "fp32"},
    "bf16": {"int8": False, "precision": "bf16"},
    "int8": {"int8": True, "precision": "fp32"},
}


def measure(questions: list[str], items: list, candidates: int = 12, seed: int = 0) -> dict:
    """Time the fp32, bf16 and int8 reads of the same candidates, round-robin question by
    question (a noisy machine slows all alike), and compare each with fp32's reading."""
    import torch

    from ncpi_qa.index.precision import bf16_in_hardware
    from ncpi_qa.qa.reader import Reader

    readers, load_s = {}, {}
    for name, kw in VARIANTS.items():
        t = time.perf_counter()
        readers[name] = Reader(**kw)
        load_s[name] = round(time.perf_counter() - t, 2)
    rng = random.Random(seed)
    ms = {name: [] for name in readers}
    same = {name: {"top": 0, "span": 0, "diffs": []} for name in readers if name != "fp32"}
    for r in readers.values():  # warm each
        r.read(questions[0], items[:candidates])
    names = list(readers)
    for i, q in enumerate(questions):
        batch = rng.sample(items, min(candidates, len(items)))
        out = {}
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t = time.perf_counter()
            out[name] = readers[name].read(q, batch)
            ms[name].append((time.perf_counter() - t) * 1000)
        a = out["fp32"]
        for name, acc in same.items():
            b = out[name]
            acc["top"] += int(np.argmax([r.logit for r in a]) == np.argmax([r.logit for r in b]))
            acc["span"] += sum(x.span == y.span for x, y in zip(a, b, strict=True))
            acc["diffs"] += [abs(x.logit - y.logit) for x, y in zip(a, b, strict=True)]
    res = {
        "candidates": candidates,
        "questions": len(questions),
        "torch_threads": torch.get_num_threads(),
        "bf16_in_hardware": bf16_in_hardware(),
        "load_s": load_s,
    }
    f = _pct(ms["fp32"])
    res["fp32_ms"] = f
    for name, acc in same.items():
        v = _pct(ms[name])
        res[f"{name}_ms"] = v
        res[f"{name}_vs_fp32_p50"] = round(v["p50"] / f["p50"], 3)
        res[f"{name}_vs_fp32_p95"] = round(v["p95"] / f["p95"], 3)
        res[f"{name}_same_best_candidate"] = round(acc["top"] / len(questions), 3)
        res[f"{name}_same_span"] = round(acc["span"] / (len(questions) * candidates), 3)
        res[f"{name}_logit_abs_diff"] = {
            "mean": round(float(np.mean(acc["diffs"])), 3),
            "max": round(float(np.max(acc["diffs"])), 3),
        }
    return res


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
        print(f"reader, {res['candidates']} candidates, {res['questions']} questions, "
              f"load {res['load_avg_at_start']}")  # fmt: skip
        print(f"  fp32 p50/p95 ms {res['fp32_ms']['p50']} / {res['fp32_ms']['p95']}")
        for name in VARIANTS:
            if name == "fp32":
                continue
            v, g = res[f"{name}_ms"], (lambda k, n=name: res[f"{n}_{k}"])
            print(f"  {name} p50/p95 ms {v['p50']} / {v['p95']} (÷ fp32 {g('vs_fp32_p50')} / "
                  f"{g('vs_fp32_p95')}); same best candidate {g('same_best_candidate')}, same "
                  f"span {g('same_span')}, |logit diff| {g('logit_abs_diff')}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
