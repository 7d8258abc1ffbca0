"""What the chat shows about indexing: an upload's progress (documents, pages, chunks, texts
embedded, time left), the notice other users see while a file is indexed, and the Sources
list (each document's file, pages, chunks and own indexed time, removal with confirmation).

Pure functions over the typed ``Manifest`` and plain data, except ``run_upload``, which
indexes an upload in a thread and yields the progress as it goes (the Gradio handler streams
it to the upload panel).
"""

from __future__ import annotations

import logging
import threading
import time

from ncpi_qa.apps.chat.docview import esc
from ncpi_qa.apps.chat.uploads import plural
from ncpi_qa.index.manifest import Manifest

log = logging.getLogger(__name__)
ADDED_NOTICE_S = 120  # how long the others are told that a new file is now included


def _seconds(s: float) -> str:
    s = int(s + 0.5)
    return f"{s} s" if s < 90 else f"{s // 60} min {s % 60:02d} s"


def percent(progress) -> int:
    """The whole build as one number: reading 0-20, embedding 20-90, writing 90-99."""
    if progress is None:
        return 0
    if progress.stage == "writing":
        return 95
    if progress.stage == "embedding" and progress.texts_total:
        return 20 + int(70 * progress.texts_done / progress.texts_total)
    return int(20 * progress.docs_done / max(progress.docs_total, 1))


def progress_text(indexing: dict) -> str:
    """E.g. "Indexing report.pdf: read, 24 pages and 144 chunks; embedded 1,200 of 2,950
    texts (chunks and sentences), about 20 s left." The figures are the file's own: the
    rebuild reads every file of the index, so those already indexed (``indexing["base"]``,
    their documents, pages and chunks before the upload) are taken off."""
    name, p = indexing.get("name", "the file"), indexing.get("progress")
    if p is None:
        return f"Indexing {name}: starting…"
    n_docs, base_pages, base_chunks = indexing.get("base") or (0, 0, 0)
    if p.docs_done < p.docs_total:
        others = f", with the {plural(n_docs, 'document')} already indexed" if n_docs else ""
        said = f"Indexing {name}: reading the files ({p.docs_done} of {p.docs_total}{others})"
    else:
        pages, chunks = max(p.pages - base_pages, 0), max(p.chunks - base_chunks, 0)
        figures = [plural(pages, "page")] if pages else []
        said = f"Indexing {name}: read ({', '.join([*figures, plural(chunks, 'chunk')])})"
    if p.stage == "embedding" and p.texts_total:
        said += f"; embedded {p.texts_done:,} of {p.texts_total:,} texts (chunks and sentences)"
        if p.eta_s is not None and p.texts_done < p.texts_total:
            said += f", about {_seconds(p.eta_s)} left"
    elif p.stage == "writing":
        said += "; all embedded, writing the index"
    elapsed = time.time() - indexing.get("started", time.time())
    return f"{said}. {_seconds(elapsed)} so far."


def progress_html(indexing: dict) -> str:
    pct = percent(indexing.get("progress"))
    return (
        '<div class="upload-progress" aria-busy="true">'
        f'<p class="status">{esc(progress_text(indexing))}</p>'
        f'<progress max="100" value="{pct}" aria-label="Indexing progress">{pct}%</progress>'
        "</div>"
    )


def upload_status_html(message: str) -> str:
    """The upload panel's final message (a polite live region, as the chat's status)."""
    return f'<p class="status" role="status" aria-live="polite">{esc(message)}</p>'


def indexing_now(holder) -> str | None:
    """The file name being indexed right now, if any."""
    indexing = holder.indexing
    return indexing.get("name") if indexing else None


def notice_html(holder, session: str | None) -> str:
    """The banner above the chat: a file being indexed (or just added), for everyone; the
    uploader is pointed at their progress instead."""
    indexing = holder.indexing
    if indexing:
        name, pct = indexing.get("name"), percent(indexing.get("progress"))
        if session is not None and indexing.get("session") == session:
            said = f"Your file {name} is being indexed ({pct}%): see Add documents."
        else:
            said = f"{name} is being indexed ({pct}%): answers will include it when it is done."
        return f'<p class="notice indexing" role="status">{esc(said)}</p>'
    added, removed = holder.added, getattr(holder, "removed", None)
    recent = [e for e in (added, removed) if e and time.time() - e[1] < ADDED_NOTICE_S]
    if recent and max(recent, key=lambda e: e[1]) is removed:
        return f'<p class="notice removed" role="status">{esc(removed[0])} was removed from ' \
            "the index: answers no longer include it.</p>"  # fmt: skip
    if recent:
        return f'<p class="notice added" role="status">{esc(added[0])} was added: ' \
            "answers include it now.</p>"  # fmt: skip
    return '<p class="notice" role="status"></p>'


def run_upload(holder, path: str, name: str, session: str | None, interval: float = 0.4):
    """Index an upload in a thread; yield (panel HTML, finished?) while it runs, then the
    message. The build keeps going if the page goes away."""
    from ncpi_qa.apps.chat.uploads import add_document, safe_name

    result: dict = {}

    def work() -> None:
        try:
            result["message"] = add_document(holder, path, name, session=session)
        except Exception as e:  # never a traceback on the page
            log.exception("upload failed")
            result["message"] = f"Could not add {safe_name(name)} ({type(e).__name__})."

    worker = threading.Thread(target=work, name="ncpi-upload", daemon=True)
    worker.start()
    checking = f"Checking {safe_name(name)}…"
    yield f'<div class="upload-progress" aria-busy="true"><p class="status">{esc(checking)}' \
        "</p></div>", False  # fmt: skip
    while worker.is_alive():
        worker.join(interval)
        indexing = holder.indexing
        if worker.is_alive() and indexing and indexing.get("session") == session:
            yield progress_html(indexing), False
    yield upload_status_html(result.get("message", "")), True


def upload_label(settings) -> str:
    return f"Add a document (PDF, HTML, DOCX, Markdown, text; up to {settings.max_file_mb:g} MB)"


def upload_limit(settings) -> str:
    """The size limit, said under the upload and read by the page script, which refuses a
    larger file, or one of a type not read, in the panel before sending it (the server
    refuses both too)."""
    from ncpi_qa.apps.chat.uploads import ALLOWED
    from ncpi_qa.ingest.limits import MB

    return (
        f'<p class="hint" id="upload-limit" data-max-bytes="{int(settings.max_file_mb * MB)}" '
        f'data-types="{" ".join(sorted(ALLOWED))}" '
        f'data-max-mb="{settings.max_file_mb:g}">One file at a time, up to '
        f"{settings.max_file_mb:g} MB (NCPI_QA_MAX_FILE_MB, the same limit as "
        "<code>ncpi-qa index</code>).</p>"
    )


# ---------------------------------------------------------------------------- Sources


def when(stamp) -> str:
    """ "2026-11-30T03:06:59Z" -> "2026-11-30 03:06:59 UTC"."""
    s = str(stamp or "")
    if len(s) >= 19 and s[10:11] == "T" and s.endswith("Z"):
        return f"{s[:10]} {s[11:19]} UTC"
    return s or "—"


def sources_key(manifest: Manifest) -> str:
    """What Sources shows, in one string: when it differs from the one a page rendered, the
    page's Sources is out of date (another tab added or removed a document)."""
    rows = [(d.doc_id, d.indexed_at, d.n_chunks) for d in manifest.documents]
    return repr((manifest.built_at, rows, manifest.skipped))


def render_sources(
    manifest: Manifest, documents, removable=frozenset(), confirm=None, said: str = ""
) -> str:
    """The indexed documents: title (opens it), file, type, pages, chunks, when it was
    indexed; a Remove button for the ones the chat added, asking once before it removes.
    ``said``: what just happened here (e.g. a stale Remove…), shown above the list. On a
    phone each row is a card (``assets.CSS``), so nothing is cut off."""
    docs = manifest.documents
    rows = []
    for d in docs:
        doc_id = d.doc_id
        doc = (documents or {}).get(doc_id)
        pages = len({p[2] for p in getattr(doc, "pages", None) or []}) or "—"
        stamp = d.indexed_at or manifest.built_at
        title = d.title or doc_id
        source = d.source
        if confirm == doc_id:
            action = (
                f'<span class="confirm">Remove {esc(source)} from the index?</span> '
                f'<button type="button" class="remove-yes" data-action="rmyes:{esc(doc_id)}" '
                "data-autofocus>Remove it</button> "
                '<button type="button" class="remove-no" data-action="rmno:">Keep it</button>'
            )
        elif doc_id in removable:
            action = (
                f'<button type="button" class="remove" data-action="rm:{esc(doc_id)}" '
                f'aria-label="Remove {esc(title)}">Remove…</button>'
            )
        else:
            action = '<span class="meta">in the corpus folder</span>'
        rows.append(
            f'<tr data-doc="{esc(doc_id)}">'
            f'<td><button type="button" class="open-doc" data-action="doc:{esc(doc_id)}">'
            f'{esc(title)}</button><br><span class="meta file">{esc(source)}</span></td>'
            f'<td data-label="Type">{esc(d.kind)}</td>'
            f'<td data-label="Pages">{esc(pages)}</td>'
            f'<td data-label="Chunks">{esc(d.n_chunks)}</td>'
            f'<td data-label="Indexed"><time datetime="{esc(stamp)}">{esc(when(stamp))}</time></td>'
            f'<td class="remove-cell">{action}</td></tr>'
        )
    skipped = "".join(f"<li>{esc(name)}: {esc(why)}</li>" for name, why in manifest.skipped)
    return (
        '<section class="ncpi-panel sources-view" aria-label="Indexed documents">'
        f"<h2>Indexed documents ({len(docs)})</h2>"
        + (f'<p class="said" role="status">{esc(said)}</p>' if said else "")
        + '<table><thead><tr><th scope="col">Document and file</th><th scope="col">Type</th>'
        '<th scope="col">Pages</th><th scope="col">Chunks</th><th scope="col">Indexed</th>'
        f'<th scope="col">Remove</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        '<p class="meta">Documents added with Add documents can be removed here (the file is '
        "moved aside, then the index is rebuilt without it). The others are files in the "
        "corpus folder: remove them there and run <code>ncpi-qa index</code>.</p>"
        + (f"<h3>Skipped files</h3><ul>{skipped}</ul>" if skipped else "")
        + "</section>"
    )
