"""The chat app's handlers: plain functions over a ``Holder`` of the current ``QA`` and a
list of turns (see ``render``), called by the Gradio wiring in ``ui`` and by tests."""

from __future__ import annotations

import json
import logging
import secrets
import time
from pathlib import Path

from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.uploads import Holder
from ncpi_qa.errors import NcpiError

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


def answer_turn(holder, message: str | None, turns: list | None) -> tuple[list, dict]:
    """Ask ``message`` after the earlier turns (a follow-up is searched with the previous
    turn as context, ``QA.ask(..., history=...)``); return the new turns and the new turn.
    Errors become a turn with ``error: True``. ``searched`` is the follow-up written out as
    a sentence where the answer path made one (it does not: it leaves the question as asked),
    and ``context`` what a follow-up was searched with."""
    holder = _holder(holder)
    refresh(holder)
    qa = holder.qa
    turns = list(turns or [])
    question = (message or "").strip()
    earlier = [t for t in turns if isinstance(t, dict) and not t.get("error")]
    searched = None
    try:
        answer = qa.ask(message or "", history=earlier)
        searched = answer.resolved_question
        turn = R.make_turn(question, searched, answer.to_dict())
        if answer.context:
            turn["context"] = answer.context
            turn["context_note"] = answer.context.get("note")
    except NcpiError as e:
        turn = R.make_turn(question, searched, None, f"Sorry: {e}")
    except Exception as e:  # keep the app alive; the traceback goes to the log only
        log.exception("question failed")
        turn = R.make_turn(
            question,
            searched,
            None,
            f"Sorry: something went wrong ({type(e).__name__}). See the server log.",
        )
    turns.append(turn)
    max_turns = qa.settings.max_history_turns
    return turns[-max_turns:], turn


def first_panel(holder, turns: list) -> str:
    """The side panel after an answer: its first citation, or the closest passages."""
    if not turns or turns[-1].get("error"):
        return R.render_panel_empty()
    i, t = len(turns) - 1, turns[-1]
    docs = _holder(holder).qa.store.documents
    if t["citations"]:
        return R.render_citation(turns, i, t["citations"][0]["n"], docs)
    if t.get("abstained"):
        return R.render_closest(turns, i, docs)
    return R.render_panel_empty()


def feedback_path(settings) -> Path:
    return Path(settings.feedback_path or Path(settings.store_dir) / "feedback.jsonl")


def record_feedback(settings, turn: dict, rating: str) -> Path:
    """Append one JSON line: the question, what was searched, the answer, its citations."""
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rating": rating,
        "question": turn["q"],
        "searched": turn.get("searched"),
        "answer": turn.get("answer"),
        "abstained": turn.get("abstained"),
        "citations": [
            {k: c.get(k) for k in ("n", "doc_id", "start", "end", "quote")}
            for c in turn.get("citations") or []
        ],
    }
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def do_action(holder, action: str, turns: list) -> tuple[str | None, list, str]:
    """A click in the page: ``cite:T:N``, ``doc:ID[:T:N]``, ``fb:T:up|down``.

    Returns (side panel HTML or None for unchanged, turns, status message)."""
    holder = _holder(holder)
    refresh(holder)
    turns = list(turns or [])
    docs = holder.qa.store.documents
    kind, _, rest = (action or "").partition(":")
    try:
        if kind == "cite":
            i, n = (int(x) for x in rest.split(":"))
            t = turns[i] if 0 <= i < len(turns) else None
            if t is not None and not t["citations"] and t.get("abstained"):
                return R.render_closest(turns, i, docs), turns, "Closest passages shown."
            return (
                R.render_citation(turns, i, n, docs),
                turns,
                f"Citation {n} of answer {i + 1} shown.",
            )
        if kind == "doc":
            # doc:ID:T:N opens at turn T's citation N; doc:ID (from Sources) at the latest
            # citation of this document in the conversation, if there is one
            parts = rest.split(":")
            doc_id = parts[0]
            if len(parts) == 3:
                i, n = int(parts[1]), int(parts[2])
                cites = [c for c in turns[i]["citations"] if c["n"] == n]
            else:
                cites = [c for t in reversed(turns) for c in t.get("citations") or []]
            text = R._doc_text(docs, doc_id) or ""
            cite = next(
                (
                    c
                    for c in cites
                    if c["doc_id"] == doc_id and text[c["start"] : c["end"]] == c.get("quote")
                ),
                None,
            )
            start, end = (cite["start"], cite["end"]) if cite else (None, None)
            doc = docs.get(doc_id)
            title = doc.title if doc is not None else doc_id
            png = pdf_page(holder.qa.settings, doc, cite) if cite else None
            return R.render_document(doc, start, end, png), turns, f"Document {title} shown."
        if kind == "fb":
            i_s, rating = rest.split(":")
            i = int(i_s)
            if rating in ("up", "down") and 0 <= i < len(turns) and not turns[i].get("error"):
                turns[i] = {**turns[i], "feedback": rating}
                record_feedback(holder.qa.settings, turns[i], rating)
                return None, turns, "Thanks: your feedback was saved on this machine."
    except (ValueError, IndexError, KeyError, TypeError):
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
    path.write_text(R.export_markdown(turns), encoding="utf-8")
    return str(path)


def status_html(message: str, spoken: str = "") -> str:
    """The live status line; ``spoken`` is read out by screen readers but not shown (the
    answer itself, which is already on screen in the conversation)."""
    extra = f' <span class="sr-only">{R.esc(spoken)}</span>' if spoken else ""
    return f'<p class="status" role="status" aria-live="polite">{R.esc(message)}{extra}</p>'


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


def pdf_page(settings, doc, cite: dict):
    """(data URI, quote marked?, page number) of the PDF page a citation is on, or None."""
    if doc is None or doc.kind != "pdf" or settings is None:
        return None
    number = R.page_of(doc, cite["start"])
    corpus = Path(settings.corpus_dir)
    path = corpus / doc.source
    if not path.is_file():
        path = next((p for p in corpus.rglob(doc.source) if p.is_file()), None)
    if number is None or path is None:
        return None
    from ncpi_qa.apps.chat.pdfpage import page_image

    rendered = page_image(path, number, cite.get("quote"))
    return None if rendered is None else (*rendered, number)
