"""The chat app's handlers: plain functions over a ``Holder`` of the current ``QA`` and a
list of turns (see ``render``), called by the Gradio wiring in ``ui`` and by tests."""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from pathlib import Path

from ncpi_qa.apps.advice import explain
from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.actions import Action
from ncpi_qa.apps.chat.docview import esc, page_of, render_document, render_panel_empty
from ncpi_qa.apps.chat.export import export_markdown
from ncpi_qa.apps.chat.uploads import Holder
from ncpi_qa.errors import NcpiError
from ncpi_qa.schema import Turn

log = logging.getLogger(__name__)


def _holder(qa_or_holder) -> Holder:
    return qa_or_holder if isinstance(qa_or_holder, Holder) else Holder(qa_or_holder)


def refresh(holder: Holder) -> bool:
    """Switch to a newer index generation (built by ``ncpi-qa index`` while the app runs):
    a fresh ``QA`` on the same encoder; answers in flight keep the one they started with."""
    if not holder.lock.acquire(blocking=False):
        return False
    try:
        if not holder.qa.store.is_stale():
            return False
        from ncpi_qa.qa.pipeline import QA

        holder.qa = QA(holder.qa.settings, embedder=holder.qa.embedder)
        log.info("switched to the new index generation")
        return True
    except Exception:  # keep answering from the loaded index
        log.exception("could not load the new index generation")
        return False
    finally:
        holder.lock.release()


def answer_turn(holder, message: str | None, turns: list[Turn] | None) -> tuple[list[Turn], Turn]:
    """Ask ``message`` after the earlier turns (a follow-up is searched with the previous
    turn as context, ``QA.ask(..., history=...)``); return the new turns and the new turn.
    Errors become a turn with ``error`` set and the message as its answer."""
    holder = _holder(holder)
    refresh(holder)
    qa = holder.qa
    turns = list(turns or [])
    question = (message or "").strip()
    earlier = [t for t in turns if not t.error]
    try:
        turn = Turn.from_answer(qa.ask(message or "", history=earlier))
        turn = turn.model_copy(update={"question": question})
    except NcpiError as e:
        turn = Turn.failed(question, f"Sorry: {explain(e, 'chat')}")
    except Exception as e:  # keep the app alive; the traceback goes to the log only
        log.exception("question failed")
        message = f"Sorry: something went wrong ({type(e).__name__}). See the server log."
        turn = Turn.failed(question, message)
    turns.append(turn)
    max_turns = qa.settings.max_history_turns
    return turns[-max_turns:], turn


def first_panel(holder, turns: list[Turn]) -> str:
    """The side panel after an answer: its first citation, or its first closest passage."""
    if not turns or turns[-1].error:
        return render_panel_empty()
    i, t = len(turns) - 1, turns[-1]
    if t.citations:
        return open_citation(_holder(holder), turns, i, t.citations[0].n)
    if t.passages:
        return open_closest(_holder(holder), turns, i, 0)
    return render_panel_empty()


def open_citation(holder: Holder, turns: list[Turn], i: int, n: int) -> str:
    """Turn i's citation n, with the page it is on as printed (a PDF's)."""
    docs = holder.qa.store.documents
    cite = next((c for c in turns[i].citations if c.n == n), None) if 0 <= i < len(turns) else None
    png = None
    if cite is not None:
        text = R.doc_text(docs, cite.doc_id) or ""
        if text[cite.start : cite.end] == cite.quote:
            png = pdf_page(holder.qa.settings, docs.get(cite.doc_id), cite.start, cite.quote)
    return R.render_citation(turns, i, n, docs, png)


def open_closest(holder: Holder, turns: list[Turn], i: int, k: int) -> str:
    """Turn i's closest passage k, with the page it starts on as printed (a PDF's)."""
    docs = holder.qa.store.documents
    passages = turns[i].passages if 0 <= i < len(turns) else []
    png = None
    if 0 <= k < len(passages):
        p = passages[k]
        text = R.doc_text(docs, p.doc_id) or ""
        if p.end <= len(text):
            png = pdf_page(holder.qa.settings, docs.get(p.doc_id), p.start, text[p.start : p.end])
    return R.render_closest(turns, i, k, docs, png)


def open_document(holder: Holder, turns: list[Turn], act: Action) -> tuple[str, str]:
    """The whole document, marked at turn ``act.turn``'s citation (or closest passage)
    ``act.item``, or (from Sources) at the latest citation of this document in the
    conversation, if there is one. Returns (panel HTML, status message)."""
    docs = holder.qa.store.documents
    doc_id, back = act.doc_id, act.turn
    text = R.doc_text(docs, doc_id) or ""
    if back is not None and act.passage:  # a closest passage, marked
        p = turns[back].passages[act.item]
        spans = [(p.doc_id, p.start, p.end, (R.doc_text(docs, p.doc_id) or "")[p.start : p.end])]
    else:
        if back is not None:
            cites = [c for c in turns[back].citations if c.n == act.item]
        else:
            cites = [c for t in reversed(turns) for c in t.citations]
        spans = [(c.doc_id, c.start, c.end, c.quote) for c in cites]
    found = next((s for s in spans if s[0] == doc_id and text[s[1] : s[2]] == s[3]), None)
    start, end = (found[1], found[2]) if found else (None, None)
    doc = docs.get(doc_id)
    title = doc.title if doc is not None else doc_id
    png = pdf_page(holder.qa.settings, doc, found[1], found[3]) if found else None
    return render_document(doc, start, end, png, back=back), f"Document {title} shown."


def feedback_path(settings) -> Path:
    return Path(settings.feedback_path or Path(settings.store_dir) / "feedback.jsonl")


def record_feedback(settings, turn: Turn, rating: str) -> Path:
    """Append one JSON line: the question, the answer, its citations."""
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rating": rating,
        "question": turn.question,
        "answer": turn.answer,
        "abstained": turn.abstained,
        "citations": [
            c.model_dump(include={"n", "doc_id", "start", "end", "quote"}) for c in turn.citations
        ],
    }
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def do_action(holder, act: Action | None, turns: list[Turn]) -> tuple[str | None, list[Turn], str]:
    """A click in the page (``actions.parse_action``): open a citation, a closest passage
    or a document, or record feedback. Returns (side panel HTML or None for unchanged,
    turns, status message); an action that does not fit the conversation changes nothing."""
    holder = _holder(holder)
    refresh(holder)
    turns = list(turns or [])
    i = act.turn if act is not None else None
    try:
        if act is None:
            pass
        elif act.kind == "cite":
            if not (0 <= i < len(turns)):
                docs = holder.qa.store.documents
                return R.render_citation(turns, i, act.item, docs), turns, ""
            said = f"Citation {act.item} of answer {i + 1} shown."
            return open_citation(holder, turns, i, act.item), turns, said
        elif act.kind == "near":
            said = f"Closest passage {act.item + 1} for answer {i + 1} shown (not an answer)."
            return open_closest(holder, turns, i, act.item), turns, said
        elif act.kind == "doc":
            panel, said = open_document(holder, turns, act)
            return panel, turns, said
        elif act.kind == "fb" and 0 <= i < len(turns) and not turns[i].error:
            turns[i] = turns[i].model_copy(update={"feedback": act.rating})
            record_feedback(holder.qa.settings, turns[i], act.rating)
            return None, turns, "Thanks: your feedback was saved on this machine."
    except IndexError:  # a turn, citation or passage this conversation no longer has
        pass
    return None, turns, ""


EXPORT_MAX_AGE_S = 3600


def write_export(turns: list, folder: Path) -> str | None:
    """The conversation as a Markdown file for the download button; files older than an
    hour are removed first, so a long-running server does not pile them up."""
    if not turns:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - EXPORT_MAX_AGE_S
    for old in folder.glob("ncpi-qa-conversation-*.md"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass
    path = folder / f"ncpi-qa-conversation-{secrets.token_hex(4)}.md"
    path.write_text(export_markdown(turns), encoding="utf-8")
    return str(path)


def status_html(message: str, spoken: str = "") -> str:
    """The live status line; ``spoken`` is read out by screen readers but not shown (the
    answer itself, which is already on screen in the conversation)."""
    extra = f' <span class="sr-only">{esc(spoken)}</span>' if spoken else ""
    return f'<p class="status" role="status" aria-live="polite">{esc(message)}{extra}</p>'


def browser_secret(settings) -> str:
    """A per-install key for the encrypted browser history, kept beside the index."""
    path = Path(settings.store_dir) / ".browser-secret"
    try:
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(16)
        path.write_text(value)
        return value
    except OSError:
        return secrets.token_hex(16)


@functools.lru_cache(maxsize=32)
def _page_image(path: str, mtime_ns: int, number: int, quote: str | None):
    """A rendered page, kept for the next click on the same citation (a changed file has a
    new mtime, so it is rendered again)."""
    from ncpi_qa.apps.chat.pdfpage import page_image

    return page_image(Path(path), number, quote)


def pdf_page(settings, doc, start: int, quote: str | None):
    """(data URI, quote marked?, page number) of the PDF page a quote starting at ``start``
    is on, or None."""
    if doc is None or doc.kind != "pdf" or settings is None:
        return None
    number = page_of(doc, start)
    corpus = Path(settings.corpus_dir)
    path = corpus / doc.source
    if not path.is_file():
        path = next((p for p in corpus.rglob(doc.source) if p.is_file()), None)
    if number is None or path is None:
        return None
    rendered = _page_image(str(path), path.stat().st_mtime_ns, number, quote)
    return None if rendered is None else (*rendered, number)
