"""The chat app's handlers: plain functions over a ``Holder`` of the current ``QA`` and a
list of turns (see ``render``), called by the Gradio wiring in ``ui`` and by tests."""

from __future__ import annotations

import functools
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
    """The side panel after an answer: its first citation, or its first closest passage."""
    if not turns or turns[-1].get("error"):
        return R.render_panel_empty()
    i, t = len(turns) - 1, turns[-1]
    if t["citations"]:
        return open_citation(_holder(holder), turns, i, t["citations"][0]["n"])
    if t.get("passages"):
        return open_closest(_holder(holder), turns, i, 0)
    return R.render_panel_empty()


def open_citation(holder: Holder, turns: list, i: int, n: int) -> str:
    """Turn i's citation n, with the page it is on as printed (a PDF's)."""
    docs = holder.qa.store.documents
    cite = next((c for c in (turns[i].get("citations") or []) if c["n"] == n), None)
    png = None
    if cite is not None:
        text = R._doc_text(docs, cite["doc_id"]) or ""
        if text[cite["start"] : cite["end"]] == cite.get("quote"):
            png = pdf_page(holder.qa.settings, docs.get(cite["doc_id"]), cite)
    return R.render_citation(turns, i, n, docs, png)


def open_closest(holder: Holder, turns: list, i: int, k: int) -> str:
    """Turn i's closest passage k, with the page it starts on as printed (a PDF's)."""
    docs = holder.qa.store.documents
    passages = turns[i].get("passages") or [] if 0 <= i < len(turns) else []
    png = None
    if 0 <= k < len(passages):
        p = passages[k]
        text = R._doc_text(docs, p.get("doc_id")) or ""
        if p.get("end", 0) <= len(text):
            where = {"start": p["start"], "quote": text[p["start"] : p["end"]]}
            png = pdf_page(holder.qa.settings, docs.get(p.get("doc_id")), where)
    return R.render_closest(turns, i, k, docs, png)


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
    """A click in the page: ``cite:T:N``, ``near:T:K``, ``doc:ID[:T:N|:T:pK]``, ``fb:T:up|down``.

    Returns (side panel HTML or None for unchanged, turns, status message)."""
    holder = _holder(holder)
    refresh(holder)
    turns = list(turns or [])
    docs = holder.qa.store.documents
    kind, _, rest = (action or "").partition(":")
    try:
        if kind == "cite":
            i, n = (int(x) for x in rest.split(":"))
            if not (0 <= i < len(turns)):
                return R.render_citation(turns, i, n, docs), turns, ""
            said = f"Citation {n} of answer {i + 1} shown."
            return open_citation(holder, turns, i, n), turns, said
        if kind == "near":
            i, k = (int(x) for x in rest.split(":"))
            said = f"Closest passage {k + 1} for answer {i + 1} shown (not an answer)."
            return open_closest(holder, turns, i, k), turns, said
        if kind == "doc":
            # doc:ID:T:N opens at turn T's citation N; doc:ID (from Sources) at the latest
            # citation of this document in the conversation, if there is one
            parts = rest.split(":")
            doc_id, back = parts[0], None
            if len(parts) == 3 and parts[2].startswith("p"):  # a closest passage, marked
                back, k = int(parts[1]), int(parts[2][1:])
                p = turns[back]["passages"][k]
                text = R._doc_text(docs, p["doc_id"]) or ""
                cites = [{**p, "quote": text[p["start"] : p["end"]]}]
            elif len(parts) == 3:
                back, n = int(parts[1]), int(parts[2])
                cites = [c for c in turns[back]["citations"] if c["n"] == n]
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
            view = R.render_document(doc, start, end, png, back=back)
            return view, turns, f"Document {title} shown."
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


@functools.lru_cache(maxsize=32)
def _page_image(path: str, mtime_ns: int, number: int, quote: str | None):
    """A rendered page, kept for the next click on the same citation (a changed file has a
    new mtime, so it is rendered again)."""
    from ncpi_qa.apps.chat.pdfpage import page_image

    return page_image(Path(path), number, quote)


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
    rendered = _page_image(str(path), path.stat().st_mtime_ns, number, cite.get("quote"))
    return None if rendered is None else (*rendered, number)
