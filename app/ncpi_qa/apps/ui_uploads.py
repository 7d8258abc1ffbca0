"""Adding a document from the browser: check it, save it into the corpus, re-index, and swap
in a fresh ``QA`` so the next question can use it. One upload at a time; answers in flight
keep the ``QA`` they started with.
"""

from __future__ import annotations

import os
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


def check_upload(path: Path, original_name: str, settings) -> tuple[str | None, str, bytes]:
    """(None, name, bytes) when the file may be indexed; (reason, name, b"") when not. The
    reason is the loader's own message, as ``ncpi-qa index`` prints it after "Skipped NAME:":
    the same size limit (``max_file_mb``), content limits (``ingest/limits.py``) and
    file-type checks. The parse is kept, so the build that follows does not parse it again."""
    from ncpi_qa.ingest.documents import LoadError, load_document
    from ncpi_qa.ingest.limits import Limits, size_refusal

    name = safe_name(original_name)
    suffix = Path(name).suffix
    if suffix not in ALLOWED:
        accepted = ", ".join(sorted(ALLOWED))
        return f"unsupported file type '{suffix or '(none)'}' (accepted: {accepted})", name, b""
    if path.is_symlink():  # an upload is a file the browser sent, never a link to one
        return "a symbolic link, not an uploaded file; not read", name, b""
    try:
        why = size_refusal(path.stat().st_size, settings.max_file_mb)
        if why is not None:
            return why, name, b""
        data = path.read_bytes()
        load_document(path, data=data, limits=Limits.from_settings(settings), keep=True)
    except OSError as e:
        return f"cannot read the upload ({e.strerror or e})", name, b""
    except LoadError as e:
        return str(e), name, b""
    except Exception as e:  # a loader bug: still a reason, never a traceback
        return f"could not read it ({type(e).__name__})", name, b""
    return None, name, data


def _write_new(corpus: Path, name: str, data: bytes) -> Path:
    """Write ``data`` as a new file in ``corpus`` (``name``, else ``stem-2``, ``-3`` ...):
    never over an existing file, never through a symbolic link (O_EXCL | O_NOFOLLOW)."""
    stem, suffix, k = Path(name).stem, Path(name).suffix, 1
    while True:
        target = corpus / (name if k == 1 else f"{stem}-{k}{suffix}")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        except FileExistsError:
            k += 1
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return target


def add_document(holder: Holder, upload_path: str, original_name: str, progress=None) -> str:
    """Check, save, index, swap. Returns a message for the page (plain text)."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.ingest.documents import outside_corpus
    from ncpi_qa.qa.pipeline import QA

    def step(fraction: float, what: str) -> None:
        if progress is not None:
            progress(fraction, desc=what)

    path = Path(upload_path)
    settings = holder.qa.settings
    step(0.05, "Checking the file…")
    # the loader reads the suffix of the path it is given: check it under its real name
    staging = path.parent / safe_name(original_name)
    source = path
    if staging != path and not path.is_symlink() and staging.suffix in ALLOWED:
        shutil.copyfile(path, staging)
        source = staging
    reason, name, data = check_upload(source, original_name, settings)
    if reason is not None:
        return f"Skipped {name}: {reason}. Nothing was added; the index is unchanged."
    with holder.lock:
        corpus = Path(settings.corpus_dir)
        corpus.mkdir(parents=True, exist_ok=True)
        same = corpus / name
        if same.is_file() and outside_corpus(same, corpus) is None and same.read_bytes() == data:
            return f"{name} is already in the corpus and indexed."
        target = _write_new(corpus, name, data)
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
