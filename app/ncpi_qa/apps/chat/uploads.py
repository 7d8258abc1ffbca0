"""Adding a document from the browser: check it, save it into the corpus, re-index, and swap
in a fresh ``QA`` so the next question can use it. One upload at a time; answers in flight
keep the ``QA`` they started with. While it is indexed, ``Holder.indexing`` says what and how
far (``index/progress.BuildProgress``), for the uploader's panel and the other users' notice.

Removing a document (Sources) is allowed only for files added through the chat (listed in
``<store>/uploads.json``): files put in the corpus folder by whoever runs the app stay theirs
to remove. A removed file is moved aside to ``<store>/removed/`` (never deleted), then the
index is rebuilt without it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from ncpi_qa.apps.advice import explain
from ncpi_qa.errors import NcpiError

log = logging.getLogger(__name__)

ALLOWED = {".pdf", ".html", ".htm", ".docx", ".md", ".txt"}


class Holder:
    """The current ``QA``, swapped whole after an upload (readers just take ``.qa``)."""

    def __init__(self, qa) -> None:
        self.qa = qa
        self.lock = threading.Lock()
        # the upload being indexed: {"name", "session", "started", "progress"}, else None
        self.indexing: dict | None = None
        self.added: tuple[str, float] | None = None  # (file name, time) of the last upload
        self.removed: tuple[str, float] | None = None  # (file name, time) of the last removal


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
    from ncpi_qa.errors import LoadError
    from ncpi_qa.ingest.documents import load_document
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


def uploads_path(settings) -> Path:
    return Path(settings.store_dir) / "uploads.json"


def uploaded_files(settings) -> dict[str, dict]:
    """The files the chat wrote into the corpus: {file name: {"sha256", "added_at"}}."""
    try:
        data = json.loads(uploads_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_uploads(settings, data: dict) -> None:
    path = uploads_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".uploads.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _rebuild(holder: Holder, on_progress=None):
    """Re-index the corpus on the current encoder; ``holder.indexing["progress"]`` follows."""
    from ncpi_qa.index.store import build_index

    def track(p) -> None:
        if holder.indexing is not None:
            holder.indexing["progress"] = p
        if on_progress is not None:
            on_progress(p)

    return build_index(
        holder.qa.settings, embedder=holder.qa.embedder, progress=track, log=lambda m: None
    )


def add_document(
    holder: Holder, upload_path: str, original_name: str, on_progress=None, session=None
) -> str:
    """Check, save, index, swap. Returns a message for the page (plain text). ``on_progress``
    gets each ``BuildProgress`` of the build; ``session`` names the uploader (for the notice
    the other users see)."""
    from ncpi_qa.ingest.documents import file_sha256, outside_corpus
    from ncpi_qa.qa.pipeline import QA

    path = Path(upload_path)
    settings = holder.qa.settings
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
        link = outside_corpus(same, corpus) if same.is_symlink() else None
        if link is not None:  # never written through, never read: say so
            return (
                f"Skipped {name}: the corpus folder holds a symbolic link by that name ({link})."
                " Nothing was written; the index is unchanged."
            )
        if same.is_file() and not same.is_symlink() and same.read_bytes() == data:
            return f"{name} is already in the corpus and indexed."

        base = index_figures(holder.qa.store)  # taken off the rebuild's figures: the file's own
        target = _write_new(corpus, name, data)
        refused = _index_with(holder, target, base, session, on_progress)
        if refused is not None:
            return refused
        holder.qa = QA(settings, embedder=holder.qa.embedder)
        uploads = uploaded_files(settings)
        uploads[target.name] = {"sha256": file_sha256(data), "added_at": time.time()}
        _save_uploads(settings, uploads)
        holder.added = (target.name, time.time())
    figures = _own_figures(holder.qa.store, target.name)
    return f"Added {target.name}: {figures} You can ask about it now."


def _own_figures(store, source: str) -> str:
    """ "24 pages, 144 chunks. The index now holds 2 documents." (the file's own figures,
    as Sources lists them, then the index's)."""
    docs = store.manifest.documents
    row = next((d for d in docs if d.source == source), None)
    doc = store.documents.get(row.doc_id) if row else None
    pages = len({p[2] for p in getattr(doc, "pages", None) or []})
    held = f"The index now holds {plural(len(docs), 'document')}."
    if row is None:
        return held
    own = ([plural(pages, "page")] if pages else []) + [plural(row.n_chunks, "chunk")]
    return f"{', '.join(own)}. {held}"


def _index_with(holder: Holder, target: Path, base, session, on_progress) -> str | None:
    """Re-index with the new file ``target`` in the corpus (the others see it being indexed).
    None when it is in the index now; else why not, for the page, the file taken out again."""
    holder.indexing = {
        "name": target.name, "session": session, "started": time.time(), "progress": None,
        "base": base,
    }  # fmt: skip
    try:
        report = _rebuild(holder, on_progress)
    except NcpiError as e:
        target.unlink(missing_ok=True)
        return f"Could not index {target.name}, so it was not added: {explain(e, 'chat')}"
    except Exception as e:  # the traceback to the log, not the page
        log.exception("indexing the upload %s failed", target.name)
        target.unlink(missing_ok=True)
        return (
            f"Could not index {target.name} ({type(e).__name__}). The file was not added; "
            "the server log says why."
        )
    finally:
        holder.indexing = None
    skipped = dict(report.skipped)
    if target.name in skipped:
        target.unlink(missing_ok=True)
        _rebuild(holder)
        return f"Skipped {target.name}: {skipped[target.name]}. Nothing was added."
    return None


def removable(settings, documents) -> set[str]:
    """Ids of the indexed documents the chat may remove: those it added itself."""
    names = uploaded_files(settings)
    return {d.doc_id for d in (documents or {}).values() if getattr(d, "source", None) in names}


def remove_document(holder: Holder, doc_id: str) -> str:
    """Move an uploaded document's file aside to ``<store>/removed/`` and re-index without it.
    Files that were not added through the chat are refused (they belong to the corpus
    folder's owner). Returns a message for the page."""
    from ncpi_qa.errors import EmptyCorpusError
    from ncpi_qa.ingest.documents import file_sha256
    from ncpi_qa.qa.pipeline import QA

    settings = holder.qa.settings
    doc = holder.qa.store.documents.get(doc_id)
    if doc is None:
        return "That document is not in the index any more."
    corpus = Path(settings.corpus_dir)
    path, record = corpus / doc.source, uploaded_files(settings).get(doc.source)
    if record is None:
        return (
            f"{doc.source} was not added through the chat, so it is not removed from here: "
            "remove it from the corpus folder and run `ncpi-qa index`."
        )
    if path.is_symlink() or not path.is_file():
        return f"{doc.source} is not a file in the corpus folder any more; nothing was removed."
    if file_sha256(path.read_bytes()) != record.get("sha256"):
        return f"{doc.source} has changed since it was uploaded; it was not removed."
    if not holder.lock.acquire(blocking=False):
        return "A document is being indexed; try again when it is done."
    try:
        aside = Path(settings.store_dir) / "removed"
        aside.mkdir(parents=True, exist_ok=True)
        moved = aside / f"{time.strftime('%Y%m%dT%H%M%S')}-{doc.source}"
        shutil.move(path, moved)
        try:
            report = _rebuild(holder)
        except EmptyCorpusError:
            shutil.move(moved, path)
            return f"{doc.source} is the only document; the index needs one, so it stays."
        except NcpiError as e:
            shutil.move(moved, path)
            return f"Could not re-index without {doc.source}; nothing was removed. " + explain(
                e, "chat"
            )
        except Exception as e:  # the traceback to the log, not the page
            log.exception("re-indexing without %s failed", doc.source)
            shutil.move(moved, path)
            return (
                f"Could not re-index without {doc.source} ({type(e).__name__}); nothing was "
                "removed. See the server log."
            )
        holder.qa = QA(settings, embedder=holder.qa.embedder)
        uploads = uploaded_files(settings)
        uploads.pop(doc.source, None)
        _save_uploads(settings, uploads)
        holder.removed = (doc.source, time.time())
    finally:
        holder.lock.release()
    n = len(report.indexed)
    return (
        f"Removed {doc.title} ({doc.source}) from the index: {plural(n, 'document')} "
        f"{'is' if n == 1 else 'are'} indexed now. The file was moved aside to "
        f"removed/{moved.name} beside the index."
    )


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def index_figures(store) -> tuple[int, int, int]:
    """(documents, pages, chunks) of an index, for the upload's own share of a rebuild."""
    docs = store.manifest.documents
    pages = sum(
        len({p[2] for p in getattr(d, "pages", None) or []}) for d in store.documents.values()
    )
    return len(docs), pages, sum(d.n_chunks for d in docs)
