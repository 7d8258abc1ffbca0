"""The Gradio chat app: ask, read the answer, open each answer's own citations at their source.

Offline: no share link, no analytics, no web fonts, no avatars, no CDN. All document text is
escaped (``ui_render``). The handlers (``answer_turn``, ``do_action``, ``clear``, ``restore``,
``upload``) are plain functions over a ``Holder`` of the current ``QA`` and a list of turns,
so tests call them without a server; ``create_app`` wires them into ``gr.Blocks`` and
``serve``/``launch`` start it (``ui_server`` guards the HTTP side).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

from ncpi_qa.apps import ui_render as R
from ncpi_qa.apps.ui_server import Guard, check_bind, read_auth_file
from ncpi_qa.apps.ui_uploads import ALLOWED, Holder, add_document
from ncpi_qa.errors import NcpiError
from ncpi_qa.qa.followup import resolve

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many inspections does the 2019 report draw on?",
    "When did HMICFRS begin its child protection inspections?",
    "What are joint targeted area inspections?",
    "How many reviews of forces did HMICFRS complete?",
]
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}
TABS = ("passage", "sources", "add")


def offline_env() -> None:
    """Called by create_app/launch (never at import): no analytics, no hub downloads."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # whatever the environment says
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)


# ---------------------------------------------------------------------------- handlers


def _holder(qa_or_holder) -> Holder:
    return qa_or_holder if isinstance(qa_or_holder, Holder) else Holder(qa_or_holder)


def answer_turn(holder, message: str | None, turns: list | None) -> tuple[list, dict]:
    """Ask ``message`` (resolved against earlier questions when it leans on them); return the
    new turns and the new turn. Errors become a turn with ``error: True``."""
    holder = _holder(holder)
    qa = holder.qa
    turns = list(turns or [])
    question = (message or "").strip()
    earlier = [t.get("searched") or t["q"] for t in turns if not t.get("error")]
    searched = resolve(question, earlier) if question else None
    try:
        result = qa.ask(searched or message or "").to_dict()
        turn = R.make_turn(question, searched, result)
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
    max_turns = getattr(getattr(qa, "settings", None), "max_history_turns", 50)
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
            return R.render_document(doc, start, end), turns, f"Document {title} shown."
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


def write_export(turns: list, folder: Path) -> str | None:
    if not turns:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ncpi-qa-conversation-{secrets.token_hex(4)}.md"
    path.write_text(R.export_markdown(turns), encoding="utf-8")
    return str(path)


def status_html(message: str) -> str:
    return f'<p class="status" role="status" aria-live="polite">{R.esc(message)}</p>'


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


# ---------------------------------------------------------------------------- the app


def create_app(qa):
    """The chat app around an already-loaded ``QA`` (or a ``Holder``). Start it with ``serve``."""
    offline_env()
    import gradio as gr

    from ncpi_qa.apps.ui_assets import CSS, HEAD, theme  # noqa: F401  (used by serve)

    holder = _holder(qa)
    settings = holder.qa.settings
    export_dir = Path(tempfile.mkdtemp(prefix="ncpi-qa-export-"))

    def sources_now() -> str:
        return R.render_sources(holder.qa.store.manifest, holder.qa.store.documents)

    with gr.Blocks(title="NCPI QA — cited answers", analytics_enabled=False) as demo:
        demo.holder = holder  # tests and launch() reach the live QA through this
        gr.HTML(
            "<header><h1>NCPI QA: cited answers from the documents</h1>"
            "<p>Answers quote the indexed documents word for word and cite each quote; when the "
            "documents don't answer, it says so. Click a [n] or a source under an answer to see "
            "the passage.</p></header>",
            elem_id="intro",
        )
        turns = gr.State([])
        saved = gr.BrowserState([], storage_key="ncpi-qa-chat", secret=browser_secret(settings))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.HTML(R.render_chat([]), elem_id="chat")
                status = gr.HTML(status_html(""), elem_id="status")
                with gr.Row():
                    box = gr.Textbox(
                        label="Your question",
                        placeholder="Ask a question about the documents…",
                        elem_id="question",
                        lines=1,
                        max_lines=4,
                        scale=5,
                        max_length=settings.max_question_chars * 2,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=0, min_width=80)
                with gr.Row():
                    clear = gr.Button(
                        "Clear conversation", elem_id="clear", size="sm", scale=0, min_width=160
                    )
                    export = gr.DownloadButton(
                        "Export as Markdown", elem_id="export", size="sm", scale=0, min_width=160,
                        interactive=False,
                    )  # fmt: skip
                gr.HTML(
                    '<p class="hint">Clear also deletes the conversation saved in this browser.</p>'
                )
                gr.HTML('<h2 class="examples-title">Examples</h2>')
                with gr.Row(elem_id="examples"):
                    example_buttons = [
                        gr.Button(q, size="sm", elem_classes=["example"]) for q in EXAMPLES
                    ]
            with gr.Column(scale=2, min_width=320):
                with gr.Tabs(selected="passage", elem_id="side") as tabs:
                    with gr.Tab("Passage", id="passage"):
                        panel = gr.HTML(R.render_panel_empty(), elem_id="panel")
                    with gr.Tab("Sources", id="sources"):
                        sources = gr.HTML(sources_now(), elem_id="sources")
                    with gr.Tab("Add documents", id="add"):
                        upload_box = gr.File(
                            label=f"Add a document (PDF, HTML, DOCX, Markdown, text; up to "
                            f"{settings.upload_max_mb:g} MB)",
                            file_types=sorted(ALLOWED),
                            file_count="single",
                            type="filepath",
                            elem_id="upload",
                        )
                        upload_status = gr.HTML(status_html(""), elem_id="upload-status")
        action = gr.Textbox(visible="hidden", elem_id="ncpi-action", label="action")
        action_btn = gr.Button("run action", visible="hidden", elem_id="ncpi-action-btn")

        # -- asking: the question shows at once and Ask is disabled, then the answer
        def start(message, ts):
            q = (message or "").strip()
            return (
                R.render_chat(ts, pending=q or None),
                gr.update(interactive=False),
                gr.update(interactive=False),
                status_html("Searching the documents…"),
            )

        def finish(message, ts):
            ts, turn = answer_turn(holder, message, ts)
            ok = not turn["error"]
            n = len(turn["citations"])
            if turn["error"]:
                said = "The question could not be answered: see the message."
            elif turn["abstained"]:
                said = "The documents don't answer this; closest passages shown."
            else:
                said = f"Answer ready with {n} citation{'s' if n != 1 else ''}."
            if turn.get("searched"):
                said = f"Searching for: {turn['searched']}. " + said
            path = write_export(ts, export_dir)
            return (
                ts,
                R.render_chat(ts),
                gr.update(value="" if ok else message, interactive=True),
                gr.update(interactive=True),
                first_panel(holder, ts) if ok else gr.update(),
                gr.Tabs(selected="passage") if ok else gr.update(),
                status_html(said),
                ts,
                gr.update(value=path, interactive=path is not None),
            )

        answer_outputs = [turns, chat, box, ask, panel, tabs, status, saved, export]
        gr.on(
            [box.submit, ask.click], start, [box, turns], [chat, box, ask, status], queue=False
        ).then(finish, [box, turns], answer_outputs, api_name="ask")
        for b in example_buttons:
            b.click(lambda q: q, [b], [box], queue=False).then(
                start, [box, turns], [chat, box, ask, status], queue=False
            ).then(finish, [box, turns], answer_outputs, api_visibility="private")

        # -- clicks inside the rendered HTML (citations, documents, feedback)
        def on_action(act, ts):
            html_panel, ts, said = do_action(holder, act, ts)
            changed = html_panel is not None
            return (
                html_panel if changed else gr.update(),
                gr.Tabs(selected="passage") if changed else gr.update(),
                ts,
                R.render_chat(ts),
                ts,
                status_html(said),
                "",
            )

        action_btn.click(
            on_action,
            [action, turns],
            [panel, tabs, turns, chat, saved, status, action],
            api_visibility="private",
            queue=False,
        )

        def on_clear():
            return (
                [],
                R.render_chat([]),
                R.render_panel_empty(),
                [],
                status_html("Conversation cleared, also from this browser."),
                "",
                gr.update(value=None, interactive=False),
            )

        clear.click(
            on_clear,
            None,
            [turns, chat, panel, saved, status, box, export],
            api_visibility="private",
            queue=False,
        )

        def on_load(raw):
            ts = R.sanitize_turns(raw, settings.max_history_turns)
            path = write_export(ts, export_dir)
            return (
                ts,
                R.render_chat(ts),
                sources_now(),
                gr.update(value=path, interactive=path is not None),
            )

        demo.load(on_load, [saved], [turns, chat, sources, export], api_visibility="private")

        def on_upload(path, progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
            if not path:
                return gr.update(), gr.update(), None
            message = add_document(holder, path, Path(path).name, progress=progress)
            return status_html(message), sources_now(), None

        upload_box.upload(
            on_upload,
            [upload_box],
            [upload_status, sources, upload_box],
            api_visibility="private",
            concurrency_limit=1,
        )
    return demo


def serve(demo, host: str = "127.0.0.1", port: int | None = None, settings=None, **kwargs):
    """``demo.launch`` with the offline, guarded settings: no share link, no web fonts, no
    footer or run history, Host/Origin/size checks in front of Gradio, optional login."""
    offline_env()
    from starlette.middleware import Middleware

    from ncpi_qa.apps.ui_assets import CSS, HEAD, theme

    settings = settings or demo.holder.qa.settings
    allowed = {host, *settings.allowed_hosts}
    max_upload = int(settings.upload_max_mb * 1024 * 1024)
    guard = Middleware(
        Guard,
        allowed_hosts=allowed,
        max_body=settings.max_request_kb * 1024,
        max_upload=max_upload + 64 * 1024,
    )
    if settings.auth_file and "auth" not in kwargs:
        kwargs["auth"] = read_auth_file(settings.auth_file)
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        theme=theme(),
        css=CSS,
        head=HEAD,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        show_error=False,
        enable_monitoring=False,
        footer_links=[],
        run_history=False,
        max_file_size=max_upload,
        app_kwargs={"middleware": [guard]},
        **kwargs,
    )


def launch(settings, host: str | None = None, port: int | None = None, **kwargs):
    """Build (or update) the index, load the QA pipeline, and serve the chat app."""
    offline_env()
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    host, port = host or settings.host, port or settings.port
    warning = check_bind(host, settings.allow_remote)  # refuses before any slow work
    if settings.auth_file:
        read_auth_file(settings.auth_file)  # a bad file fails here, with its reason
    build_index(settings)  # a quick no-op when the index is up to date
    demo = create_app(QA(settings))
    where = "local only" if warning is None else "REACHABLE FROM OTHER MACHINES"
    if warning:
        login = "login required" if settings.auth_file else "no login: set --auth-file"
        print(f"{warning} ({login}).", flush=True)
    # Gradio's own banner suggests share=True, which this app never uses: print ours instead.
    print(f"ncpi-qa chat on http://{host}:{port} ({where}; Ctrl-C to stop)", flush=True)
    kwargs.setdefault("quiet", True)
    return serve(demo, host, port, settings=settings, **kwargs)
