"""Adding a document from the browser: check it, save it into the corpus, re-index, and swap
in a fresh ``QA`` so the next question can use it. One upload at a time; answers in flight
keep the ``QA`` they started with.
"""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

from ncpi_qa.errors import NcpiError

ALLOWED = {".pdf", ".html", ".htm", ".docx", ".md", ".txt"}


class Holder:
    """The current ``QA``, swapped whole after an upload (readers just take ``.qa``)."""

    def __init__(self, qa) -> None:
        self.qa = qa
        self.lock = threading.Lock()


def safe_name(name: str) -> str:
    """A file name that cannot leave the corpus folder: letters, digits, . _ - only."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    stem = re.sub(r"[^\w.\-]+", "-", stem, flags=re.UNICODE).strip(".-_") or "upload"
    return f"{stem[:80]}{suffix}"


def check_upload(path: Path, original_name: str, max_mb: float) -> tuple[str | None, str]:
    """(None, name) when the file may be indexed; (reason, name) when not. The reason is the
    loader's own message, as ``ncpi-qa index`` prints it after "Skipped NAME:"."""
    from ncpi_qa.ingest.documents import LoadError, load_document

    name = safe_name(original_name)
    suffix = Path(name).suffix
    if suffix not in ALLOWED:
        return (
            f"unsupported file type '{suffix or '(none)'}' (accepted: "
            f"{', '.join(sorted(ALLOWED))})",
            name,
        )
    size = path.stat().st_size
    if size > max_mb * 1024 * 1024:
        return f"file is {size / 1024 / 1024:.1f} MB; the limit is {max_mb:g} MB", name
    try:
        load_document(path)
    except LoadError as e:
        return str(e), name
    except Exception as e:  # a loader bug: still a reason, never a traceback
        return f"could not read it ({type(e).__name__})", name
    return None, name


def add_document(holder: Holder, upload_path: str, original_name: str, progress=None) -> str:
    """Check, save, index, swap. Returns a message for the page (plain text)."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    def step(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, desc=what)

    path = Path(upload_path)
    settings = holder.qa.settings
    step(0.05, "Checking the file…")
    # the loader reads the suffix of the path it is given: check a copy with the real name
    staging = path.parent / safe_name(original_name)
    if staging != path:
        shutil.copyfile(path, staging)
    reason, name = check_upload(staging, original_name, settings.upload_max_mb)
    if reason is not None:
        return f"Skipped {name}: {reason}. Nothing was added; the index is unchanged."
    with holder.lock:
        corpus = Path(settings.corpus_dir)
        target = corpus / name
        if target.exists():
            if target.read_bytes() == staging.read_bytes():
                return f"{name} is already in the corpus and indexed."
            stem, suffix, k = target.stem, target.suffix, 2
            while (corpus / f"{stem}-{k}{suffix}").exists():
                k += 1
            target = corpus / f"{stem}-{k}{suffix}"
        corpus.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging, target)
        step(0.2, f"Indexing {target.name}…")
        try:
            report = build_index(settings, embedder=holder.qa.embedder, log=lambda m: None)
        except NcpiError as e:
            target.unlink(missing_ok=True)
            return f"Could not index {target.name}: {e}. The file was not added."
        except Exception as e:
            target.unlink(missing_ok=True)
            return f"Could not index {target.name} ({type(e).__name__}). The file was not added."
        skipped = dict(report.skipped)
        if target.name in skipped:
            target.unlink(missing_ok=True)
            build_index(settings, embedder=holder.qa.embedder, log=lambda m: None)
            return f"Skipped {target.name}: {skipped[target.name]}. Nothing was added."
        step(0.9, "Loading the new index…")
        holder.qa = QA(settings, embedder=holder.qa.embedder)
    step(1.0, "Done")
    return (
        f"Added {target.name}: {len(report.indexed)} documents and {report.n_chunks} chunks "
        "are indexed. You can ask about it now."
    )
