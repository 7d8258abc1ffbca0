"""The policy-prose set (shared/data/domain-dev): pages of the report's own kind with answerable,
look-alike and out-of-scope questions, split by page into a part that is fitted on and a part
that is only reported on.

The indexed pages (``corpus/``) are indexed together with the seed page (the shipped corpus),
so that pages on near topics compete as they would in a real report; the ``absent/`` pages are
never indexed and their questions are out of scope. ``split_pages`` is fixed (a hash of each
page's name), so the ``fit`` part (about two thirds of the pages) is what the answerer's
calibration may see and the ``report`` part is what its figures are reported on, never the
other way round (tools/train/train_answerer.py, evals/README.md).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals.dataset import Row, load_dataset

PARTS = ("fit", "report")
KIND_OF = {"answerable": "answerable", "lookalike": "unanswerable", "out_of_scope": "oos"}


def split_pages(pages: list[str]) -> dict[str, list[str]]:
    """A fixed split of page names: about two thirds ``fit``, the rest ``report``."""
    order = sorted(set(pages), key=lambda p: hashlib.sha1(p.encode()).hexdigest())
    n_fit = round(len(order) * 2 / 3)
    return {"fit": sorted(order[:n_fit]), "report": sorted(order[n_fit:])}


def load_rows(folder: Path, part: str | None = None) -> list[Row]:
    """The questions (``qa.jsonl``) with their kind and page (``meta.json``): ``kind`` in
    the eval's names (answerable / unanswerable / oos), ``group`` the page; ``part`` keeps
    the questions of that part's pages (indexed and absent pages split alike)."""
    folder = Path(folder)
    rows = load_dataset(folder / "qa.jsonl")
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DatasetError(folder / "meta.json", f"cannot be read ({e})") from None
    for r in rows:
        m = meta.get(r.id)
        if not m or m.get("kind") not in KIND_OF:
            raise DatasetError(folder / "meta.json", f"no kind for question '{r.id}'")
        page = m.get("page") or m.get("topic_page") or m.get("absent_page") or ""
        r.kind, r.group = KIND_OF[m["kind"]], page
    if part:
        keep = part_pages(folder, part)
        rows = [r for r in rows if r.group in keep]
    return rows


def part_pages(folder: Path, part: str) -> set[str]:
    """The pages of one part: indexed and absent pages are split alike."""
    if part not in PARTS:
        raise DatasetError(Path(part), f"unknown part; choose one of {', '.join(PARTS)}")
    indexed = [p.stem for p in (Path(folder) / "corpus").glob("*.md")]
    absent = [p.stem for p in (Path(folder) / "absent").glob("*.md")]
    return set(split_pages(indexed)[part]) | set(split_pages(absent)[part])


def build_store(
    folder: Path, work: Path, settings, extra: list[Path] = (), embedder=None, log=None
):
    """Index the set's ``corpus/`` pages (and ``extra`` files, e.g. the seed page) under
    ``work``; returns the settings that point at it (vectors of unchanged pages reused)."""
    from ncpi_qa.index.store import build_index

    corpus = Path(work) / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    corpus.mkdir(parents=True)
    pages = sorted((Path(folder) / "corpus").glob("*.md"))
    if not pages:
        raise DatasetError(Path(folder) / "corpus", "no pages (*.md) found")
    for p in [*pages, *extra]:
        shutil.copyfile(p, corpus / p.name)
    s = settings.model_copy(
        update={
            "corpus_dir": corpus,
            "store_dir": Path(work) / "store",
            "milvus_collection_prefix": f"{settings.milvus_collection_prefix}_domain",
        }
    )
    report = build_index(s, embedder=embedder, log=log)
    if log and not report.up_to_date:
        log(report.summary())
    return s


def seed_pages(settings) -> list[Path]:
    """The shipped corpus's own files (the seed page), indexed beside the set's pages."""
    corpus = Path(settings.corpus_dir)
    return sorted(
        p for p in corpus.iterdir() if p.is_file() and p.suffix.lower() in {".md", ".txt", ".html"}
    )
