"""Answer and retrieval figures of two settings side by side, on the same question sets.

    python tools/bench/compare_eval.py reader_int8          # fp32 reader vs int8 reader
    python tools/bench/compare_eval.py sentence_vectors     # separate vs pooled sentence vectors
    python tools/bench/compare_eval.py precision            # fp32 vs bf16 forward passes
    ... [--sets dev,squad,domain] [--work DIR] [--json OUT]

Each arm runs the ordinary ``ncpi-qa eval`` in a child process with the setting's environment
variable (``NCPI_QA_READER_INT8``, ``NCPI_QA_SENTENCE_VECTORS``, ``NCPI_QA_PRECISION``) and
its own scratch index, so nothing is shared but the question sets:

- dev: ``ncpi-qa eval --dataset evals/dev.jsonl`` over the shipped corpus;
- squad: ``ncpi-qa eval --squad ../shared/data/squad2 --part report --limit 300 --seed 0``
  (CI's sample);
- domain: ``ncpi-qa eval --dataset <shared>/domain-dev/qa.jsonl`` over that folder's corpus.

The reader comparison indexes each set once (the index does not depend on the reader) and
asks twice. Prints one table per set (the figures, and B - A); ``--json`` keeps everything.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
ARMS = {  # setting -> ((label, env value), (label, env value))
    "reader_int8": (("fp32", "0"), ("int8", "1")),
    "sentence_vectors": (("separate", "separate"), ("pooled", "pooled")),
    "precision": (("fp32", "fp32"), ("bf16", "bf16")),
}
FIGURES = (
    ("answer_accuracy", "answer accuracy"),
    ("abstention_accuracy", "abstention accuracy"),
    ("false_abstention_rate", "false abstention"),
    ("citation_precision", "citation precision"),
    ("citation_recall", "citation recall"),
    ("right_first", "right first"),
    ("forced_right", "forced right"),
    ("asserted_precision", "asserted precision"),
    ("aurc", "AURC (lower better)"),
    ("coverage_at_90", "coverage at 90% precision"),
    ("HasAns_accuracy", "HasAns"),
    ("NoAns_accuracy", "NoAns"),
    ("OOS_accuracy", "out of scope"),
)


def _sets(names: list[str], shared: Path) -> dict[str, dict]:
    out = {
        "dev": {
            "args": ["--dataset", str(ROOT / "evals" / "dev.jsonl")],
            "corpus": ROOT / "corpus",
        },
        "squad": {
            "args": ["--squad", str(shared / "squad2"), "--part", "report"]
            + ["--limit", "300", "--seed", "0"],
        },
        "domain": {
            "args": ["--dataset", str(shared / "domain-dev" / "qa.jsonl")],
            "corpus": shared / "domain-dev" / "corpus",
        },
    }
    return {n: out[n] for n in names}


def _flat(result: dict) -> dict[str, float]:
    """The figures worth comparing, from ``ncpi-qa eval --json``, flattened."""
    out = {k: result[k] for k, _ in FIGURES if isinstance(result.get(k), int | float)}
    for method, figs in (result.get("retrieval") or {}).items():
        for k in ("hit@1", "hit@5", "mrr"):
            if k in figs:
                out[f"retrieval {method} {k}"] = figs[k]
    lat = result.get("latency_ms") or {}
    for k in ("p50", "p95"):
        if k in lat:
            out[f"latency {k} ms"] = lat[k]
    return out


def run_arm(setting: str, value: str, name: str, spec: dict, work: Path, store: Path) -> dict:
    env = {**os.environ, f"NCPI_QA_{setting.upper()}": value}
    cmd = [sys.executable, "-m", "ncpi_qa.apps.cli", "eval", *spec["args"], "--json"]
    if "corpus" in spec:
        env["NCPI_QA_CORPUS_DIR"] = str(spec["corpus"])
        cmd += ["--store", str(store)]
        subprocess.run(
            [sys.executable, "-m", "ncpi_qa.apps.cli", "index", "--store", str(store)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    else:
        cmd += ["--work", str(store)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode not in (0, 1):  # 1: below a gate, still a result
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode})")
    result = json.loads(done.stdout)
    return {"seconds": round(time.perf_counter() - t0, 1), "figures": _flat(result)}


def table(name: str, labels: tuple[str, str], a: dict, b: dict) -> str:
    rows = [f"## {name}: {labels[0]} vs {labels[1]}", "", f"| figure | {labels[0]} | "
            f"{labels[1]} | {labels[1]} - {labels[0]} |", "|---|---|---|---|"]  # fmt: skip
    fa, fb = a["figures"], b["figures"]
    for k in fa:
        if k in fb:
            rows.append(f"| {k} | {fa[k]:.4g} | {fb[k]:.4g} | {fb[k] - fa[k]:+.4f} |")
    rows.append(f"| eval wall s | {a['seconds']} | {b['seconds']} | |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("setting", choices=sorted(ARMS))
    p.add_argument("--sets", default="dev,squad,domain")
    p.add_argument("--shared", type=Path, default=SHARED, help="the shared data folder")
    p.add_argument("--work", type=Path, default=ROOT / "build" / "compare-eval")
    p.add_argument("--json", type=Path, help="write every figure here")
    args = p.parse_args(argv)
    arms = ARMS[args.setting]
    out = {"setting": args.setting, "load_avg_at_start": os.getloadavg(), "sets": {}}
    for name, spec in _sets(args.sets.split(","), args.shared).items():
        res = {}
        for label, value in arms:
            # the reader does not change the index: both arms share it
            tag = "shared" if args.setting == "reader_int8" else label
            store = args.work / f"{name}-{args.setting}-{tag}"
            print(f"[compare] {name} {label} ...", file=sys.stderr, flush=True)
            res[label] = run_arm(args.setting, value, name, spec, args.work, store)
        out["sets"][name] = res
        print(table(name, (arms[0][0], arms[1][0]), res[arms[0][0]], res[arms[1][0]]), flush=True)
        print(flush=True)
    out["load_avg_at_end"] = os.getloadavg()
    print(f"load average at start {out['load_avg_at_start']}, at end {out['load_avg_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
