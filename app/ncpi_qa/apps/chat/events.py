"""The chat's event handlers: one ``ChatEvents`` per app, its methods plain functions over the
live ``Holder`` (``handlers`` does the work; these turn results into Gradio updates).

Imported by ``ui.create_app`` only, so gradio loads only on the path that serves the chat.
Annotations are real objects here (no ``from __future__ import annotations``): Gradio finds
the ``gr.Request`` parameter by its annotation.
"""

import gradio as gr

from ncpi_qa.apps.chat import indexing as IX
from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.actions import REMOVAL, Action, parse_action
from ncpi_qa.apps.chat.docview import render_panel_empty
from ncpi_qa.apps.chat.handlers import (
    answer_turn,
    do_action,
    first_panel,
    refresh,
    status_html,
    write_export,
)
from ncpi_qa.apps.chat.turns import dump_turns, restore_turns, with_pages
from ncpi_qa.apps.chat.uploads import removable, remove_document
from ncpi_qa.schema import Turn


def said(turn: Turn) -> str:
    """The status line after an answer."""
    n, tier = len(turn.citations), turn.tier
    if turn.error:
        text = "The question could not be answered: see the message."
    elif tier == "closest":
        text = "Not a confirmed answer: the closest passage is quoted, with its citation."
    elif tier == "none":
        k = len(turn.passages)
        text = f"The documents don't answer this; {k} closest passages are listed under it."
    else:
        text = f"Answer ready with {n} citation{'s' if n != 1 else ''}."
    if turn.context and turn.context.note:
        text = f"{turn.context.note} " + text
    if turn.indexing:
        text += f" {turn.indexing} is still being indexed: this answer does not include it."
    return text


def session(request) -> str | None:
    return getattr(request, "session_hash", None)  # None when called without a server


class ChatEvents:
    """What each click, submit, load, tick and upload does; outputs in ``ui._wire``'s order."""

    def __init__(self, holder, export_dir) -> None:
        self.holder = holder
        self.export_dir = export_dir

    def sources_now(self, confirm: str | None = None, said: str = "") -> str:
        store = self.holder.qa.store
        allowed = removable(self.holder.qa.settings, store.documents)
        return IX.render_sources(store.manifest, store.documents, allowed, confirm, said)

    def sources_key(self) -> str:
        return IX.sources_key(self.holder.qa.store.manifest)

    # -- asking: the question shows at once and Ask is disabled, then the answer
    def start(self, message, ts):
        q = (message or "").strip()
        return (
            R.render_chat(ts, pending=q or None),
            gr.update(interactive=False),
            gr.update(interactive=False),
            status_html("Searching the documents…"),
        )

    def finish(self, message, ts, request: gr.Request):
        holder = self.holder
        indexing = holder.indexing  # read before answering: the index it answers from
        ts, turn = answer_turn(holder, message, ts)
        turn = with_pages(turn, holder.qa.store.documents)
        if indexing and not turn.error:
            turn = turn.model_copy(update={"indexing": indexing.get("name")})
        ts[-1] = turn
        ok = not turn.error
        # the uploader's panel stays on the upload's progress while they ask
        uploading = bool(indexing) and indexing.get("session") == session(request)
        path = write_export(ts, self.export_dir)
        return (
            ts,
            R.render_chat(ts),
            gr.update(value="" if ok else message, interactive=True),
            gr.update(interactive=True),
            first_panel(holder, ts) if ok else gr.update(),
            gr.Tabs(selected="passage") if ok and not uploading else gr.update(),
            status_html(said(turn), spoken=turn.answer),
            dump_turns(ts),
            gr.update(value=path, interactive=path is not None),
        )

    # -- clicks inside the rendered HTML (citations, documents, feedback, removal): each
    # HTML component's click event carries its ``data-action`` (app.ACTION_JS)
    def action(self, ts, evt: gr.EventData):
        act = parse_action(getattr(evt, "_data", None))
        if act is not None and act.kind in REMOVAL:
            return self.removal(act, ts)
        html_panel, ts, text = do_action(self.holder, act, ts)
        changed = html_panel is not None
        return (
            html_panel if changed else gr.update(),
            gr.Tabs(selected="passage") if changed else gr.update(),
            ts,
            R.render_chat(ts),
            dump_turns(ts),
            status_html(text),
            gr.update(),
            gr.update(),
        )

    def removal(self, act: Action, ts):
        """Remove a document added through the chat: asked (rm), confirmed (rmyes) or kept
        (rmno); a stale row (gone since this list was drawn) says so."""
        refresh(self.holder)
        doc = self.holder.qa.store.documents.get(act.doc_id)
        said = ""
        if act.kind != "rmno" and doc is None:
            text = said = (
                "That document is no longer in the index (it was removed, perhaps in "
                "another tab or by another user). Sources is up to date now."
            )
        elif act.kind == "rmyes":
            text = remove_document(self.holder, act.doc_id)
        else:
            text = f"Remove {doc.source}? Confirm in Sources." if doc else ""
        confirm = act.doc_id if act.kind == "rm" and doc is not None else None
        return (gr.update(), gr.update(), ts, gr.update(), gr.update(), status_html(text),
                self.sources_now(confirm, said), self.sources_key())  # fmt: skip

    def clear(self):
        return (
            [],
            R.render_chat([]),
            render_panel_empty(),
            "",
            status_html("Conversation cleared, also from this browser tab."),
            "",
            gr.update(value=None, interactive=False),
        )

    def load(self, raw, request: gr.Request):
        refresh(self.holder)
        ts = restore_turns(raw, self.holder.qa.settings.max_history_turns)
        path = write_export(ts, self.export_dir)
        return (
            ts,
            R.render_chat(ts),
            self.sources_now(),
            gr.update(value=path, interactive=path is not None),
            IX.notice_html(self.holder, session(request)),
            self.sources_key(),
        )

    def tick(self, shown_key, request: gr.Request):
        """Every few seconds: the notice, and Sources again when the index changed since this
        page drew it (an upload or removal in another tab or by another user)."""
        key = self.sources_key()
        if key == shown_key:
            return IX.notice_html(self.holder, session(request)), gr.update(), gr.update()
        return IX.notice_html(self.holder, session(request)), self.sources_now(), key

    def upload(self, path, request: gr.Request):
        if not path:
            yield gr.update(), gr.update(), None, gr.update(), gr.update()
            return
        from pathlib import Path

        who = session(request)
        for html, done in IX.run_upload(self.holder, path, Path(path).name, who):
            if done:  # the banner too: it must not still say "being indexed" beside "Added"
                notice = IX.notice_html(self.holder, who)
                yield html, self.sources_now(), None, self.sources_key(), notice
            else:
                yield html, gr.update(), gr.update(), gr.update(), gr.update()
