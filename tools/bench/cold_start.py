"""Cold starts before and after a change, interleaved on the same index: ``ncpi-qa ask`` (process
start to the answer) and ``ncpi-qa app`` (process start to the first answer through
gradio_client), each the median of ``--runs``, measured by bench.py's own functions.

    python tools/bench/cold_start.py --before 293f2ff [--runs 3] [--json]

"before" is that commit's ``app/`` (``git archive``) in a temporary folder, run with it first
on PYTHONPATH (the same venv); "after" is this checkout. Runs alternate before/after so that
a machine busy for a while slows both alike. The index: the shipped corpus, built once by this
checkout into a temporary store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUESTION = "How many inspections does the 2019 report draw on?"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from bench import _env, cold_start_app, cold_start_ask
    from bench_measure import before_after_args, checkout_app

    args = before_after_args(__doc__.split("\n\n")[0], argv)
    work = Path(tempfile.mkdtemp(prefix="ncpi-cold-"))
    try:
        before_app = checkout_app(args.before, work / "before")
        store = work / "store"
        base = _env(NCPI_QA_CORPUS_DIR=str(ROOT / "corpus"), NCPI_QA_STORE_DIR=str(store))
        subprocess.run([sys.executable, "-m", "ncpi_qa.apps.cli", "index"], env=base,
                       check=True, capture_output=True)  # fmt: skip
        envs = {"before": {**base, "PYTHONPATH": str(before_app)}, "after": base}
        res = {k: {"ask": [], "app": []} for k in envs}
        load = [round(x, 2) for x in os.getloadavg()]
        for i in range(args.runs):
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                res[name]["ask"].append(cold_start_ask(envs[name], QUESTION, 1).get("s"))
                app = cold_start_app(envs[name], QUESTION)
                res[name]["app"].append(app.get("s"))
                if "error" in app:
                    print(f"{name} app: {app}", file=sys.stderr)
        out = {
            "before": args.before,
            "after": "working tree",
            "runs": args.runs,
            "load_avg_at_start": load,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        for name, r in res.items():
            for kind, xs in r.items():
                ok = [x for x in xs if x is not None]
                out[f"{name}_{kind}_s"] = round(float(np.median(ok)), 2) if ok else None
                out[f"{name}_{kind}_runs_s"] = xs
        for kind in ("ask", "app"):
            a, b = out[f"after_{kind}_s"], out[f"before_{kind}_s"]
            out[f"{kind}_after_vs_before"] = round(a / b, 3) if a and b else None
        if args.json:
            print(json.dumps(out, indent=1))
        else:
            for kind in ("ask", "app"):
                print(f"{kind}: before {out[f'before_{kind}_s']} s {out[f'before_{kind}_runs_s']}"
                      f", after {out[f'after_{kind}_s']} s {out[f'after_{kind}_runs_s']}, "
                      f"after/before {out[f'{kind}_after_vs_before']}")  # fmt: skip
            print(f"load average {out['load_avg_at_start']} -> {out['load_avg_at_end']}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
