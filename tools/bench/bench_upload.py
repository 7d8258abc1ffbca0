"""An upload through the chat, timed to answerable: a 24-page report PDF (running header and
footer, contents page, bookmarks; prose from the bench's sentence pool, one planted fact)
added to the shipped corpus and indexed as the chat indexes an upload (``build_index`` with the
chat's own query encoder, already loaded), then the first question about the fact asked.

As a phase of bench.py (``upload``, run once per precision through ``params["env"]``), or on
its own, before and after a change on the same machine, alternately:

    python tools/bench/bench_upload.py --before 3f6fb08 [--runs 3] [--json]

"before" runs that commit's ``app/`` (``git archive`` into a temporary folder, first on
PYTHONPATH, same venv); "after" is this checkout with its settings (env) as they are.
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
PAGES = 24
FACT = "The review panel found that 37 referrals had been closed without a home visit."
QUESTION = "How many referrals were closed without a home visit?"
CHAPTERS = ("Context", "Leadership", "Referrals", "Assessment", "Partnership", "Outcomes")


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def make_pdf(path: Path, pool: list[str], pages: int = PAGES) -> Path:
    """A report-like PDF: contents page, chapters on new pages, header and footer on every
    page, bookmarks, ``FACT`` on the 17th page."""
    from fpdf import FPDF

    class Report(FPDF):
        chapter = ""

        def header(self):
            if self.page_no() > 1:
                self.set_font("helvetica", "I", 8)
                self.cell(0, 6, _latin1(f"Area review 2026 - {self.chapter}"), align="R")
                self.ln(10)

        def footer(self):
            self.set_y(-12)
            self.set_font("helvetica", "", 8)
            self.cell(0, 6, f"Page {self.page_no()} of {{nb}}", align="C")

    pdf = Report()
    pdf.alias_nb_pages()
    pdf.set_title("Area review 2026")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    per = max(1, (pages - 1) // len(CHAPTERS))
    for i, title in enumerate(CHAPTERS):
        pdf.cell(0, 7, f"{i + 1}. {title} {'.' * 60} {2 + i * per}", new_x="LMARGIN", new_y="NEXT")
    k = 0
    for n in range(2, pages + 1):
        i = min((n - 2) // per, len(CHAPTERS) - 1)
        pdf.chapter = CHAPTERS[i]
        pdf.add_page()
        if (n - 2) % per == 0 and (n - 2) // per < len(CHAPTERS):
            pdf.start_section(f"{i + 1}. {CHAPTERS[i]}")
            pdf.set_font("helvetica", "B", 14)
            pdf.cell(0, 9, f"{i + 1}. {CHAPTERS[i]}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", "", 11)
        for _ in range(4):  # four paragraphs of five sentences: about a page
            body = " ".join(pool[(k + j) % len(pool)] for j in range(5))
            k += 5
            if n == 17 and _ == 2:
                body += " " + FACT
            pdf.multi_cell(0, 5.5, _latin1(body), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.output(str(path))
    return path


def phase_upload(p: dict) -> dict:
    """Index the shipped corpus plus the PDF into a fresh store with the chat's encoder
    (loaded before the clock starts), then ask the question: seconds to answerable."""
    from ncpi_qa.index.embedding import get_query_embedder
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    work = Path(p["work"])
    corpus, store = work / "corpus", work / "store"
    shutil.rmtree(work, ignore_errors=True)
    corpus.mkdir(parents=True)
    for f in [*Path(p["seed"]).iterdir(), Path(p["pdf"])]:
        if f.is_file():
            shutil.copyfile(f, corpus / f.name)
    settings = Settings(corpus_dir=corpus, store_dir=store)
    embedder = get_query_embedder(settings.embedding_model)
    embedder.encode(["warm up"])
    t0 = time.perf_counter()
    report = build_index(settings, embedder=embedder, log=lambda m: None)
    t1 = time.perf_counter()
    answer = QA(settings, embedder=embedder).ask(p.get("question", QUESTION))
    t2 = time.perf_counter()
    quoted = " ".join(c.quote for c in answer.citations) if answer.citations else ""
    return {
        "precision": getattr(settings, "precision", "fp32 (before the setting)"),
        "chunks": report.n_chunks,
        "texts_embedded": report.texts_embedded,
        "index_s": round(t1 - t0, 2),
        "first_answer_s": round(t2 - t1, 2),
        "to_answerable_s": round(t2 - t0, 2),
        "tier": getattr(answer, "tier", None),
        "fact_quoted": "37 referrals" in quoted,
    }


def _child(params: dict, pythonpath: str | None) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as tmp:
        pfile = Path(tmp) / "params.json"
        out = Path(tmp) / "out.json"
        pfile.write_text(json.dumps({**params, "out": str(out)}))
        code = f"import sys, json; sys.path.insert(0, {str(HERE)!r}); import bench_upload as b; "
        code += f"p = json.load(open({str(pfile)!r})); "
        code += "open(p['out'], 'w').write(json.dumps(b.phase_upload(p)))"
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    from bench_corpus import sentence_pool
    from bench_measure import before_after_args, checkout_app

    args = before_after_args(__doc__.split("\n\n")[0], argv)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before_app = checkout_app(args.before, tmp / "before")
        pdf = make_pdf(tmp / "area-review-2026.pdf", sentence_pool(4000))
        params = {"seed": str(ROOT / "corpus"), "pdf": str(pdf), "work": str(tmp / "w")}
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for i in range(args.runs):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            for arm in order:
                path = str(before_app) if arm == "before" else None
                runs[arm].append(_child(params, path))
    med = {arm: float(np.median([r["to_answerable_s"] for r in rs])) for arm, rs in runs.items()}
    res = {"load_avg_at_start": [round(x, 2) for x in load], "before": args.before,
           "runs": runs, "median_to_answerable_s": med,
           "speedup": round(med["before"] / med["after"], 2)}  # fmt: skip
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"upload to answerable, median of {args.runs}: before ({args.before}) "
              f"{med['before']:.1f} s, after {med['after']:.1f} s, {res['speedup']}× faster; "
              f"load at start {res['load_avg_at_start']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
