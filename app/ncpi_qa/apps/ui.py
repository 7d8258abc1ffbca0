"""The Gradio chat app: ask, read the answer, open each answer's own citations at their source.

Offline: no share link, no analytics, no web fonts, no avatars, no CDN. All document text is
escaped (``ui_render``). The handlers (``ui_handlers``: ``answer_turn``, ``do_action``, ...;
``ui_uploads.add_document``) are plain functions over a ``Holder`` of the current ``QA`` and
a list of turns (``ui_turns``), so tests call them without a server; ``create_app`` wires
them into ``gr.Blocks``, ``serve``/``launch`` start it (``ui_server`` guards the HTTP side,
``ui_assets`` holds the theme, CSS and the page scripts, ``ui_indexing`` an upload's
progress, the notice to other users and Sources, ``ui_docview`` the whole-document view).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ncpi_qa.apps import ui_indexing as IX
from ncpi_qa.apps import ui_render as R
from ncpi_qa.apps.ui_handlers import (  # noqa: F401  (re-exported: the app's handler API)
    _holder,
    answer_turn,
    browser_secret,
    do_action,
    first_panel,
    record_feedback,
    refresh,
    status_html,
    write_export,
)
from ncpi_qa.apps.ui_server import Guard, check_bind, machine_names, read_auth_file
from ncpi_qa.apps.ui_turns import with_pages
from ncpi_qa.apps.ui_uploads import ALLOWED, add_document, removable, remove_document  # noqa: F401

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
NOTICE_EVERY_S = 2.0  # how often each page asks whether a file is being indexed
FOCUS_JS = "() => { window.ncpiFocusBox && window.ncpiFocusBox(); }"
LOAD_JS = "(v) => [window.ncpiLoadConv ? window.ncpiLoadConv() : '']"
SAVE_JS = "(v) => { window.ncpiSaveConv && window.ncpiSaveConv(v); }"
SKIP_LINK = (
    '<a href="#chatlog" class="skip-link" data-jump-cites="1">Go to the newest answer\'s '
    "sources</a>"
)


def offline_env() -> None:
    """Called by create_app/launch (never at import): no analytics, no hub downloads."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # whatever the environment says
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)


# ---------------------------------------------------------------------------- the app


def _said(turn: dict) -> str:
    """The status line after an answer."""
    n = len(turn["citations"])
    if turn["error"]:
        said = "The question could not be answered: see the message."
    elif turn["abstained"]:
        said = "The documents don't answer this; closest passages shown."
    else:
        said = f"Answer ready with {n} citation{'s' if n != 1 else ''}."
    if turn.get("searched"):
        said = f"Searching for: {turn['searched']}. " + said
    if turn.get("indexing"):
        said += f" {turn['indexing']} is still being indexed: this answer does not include it."
    return said


def _session(request) -> str | None:
    return getattr(request, "session_hash", None)


def _given_request(gr, *fns) -> None:
    """Let Gradio pass each handler its ``gr.Request``: it looks for the annotation, which
    ``from __future__ import annotations`` leaves as a string it cannot resolve here."""
    for fn in fns:
        fn.__annotations__ = {**fn.__annotations__, "request": gr.Request}


def create_app(qa):
    """The chat app around an already-loaded ``QA`` (or a ``Holder``). Start it with ``serve``."""
    offline_env()
    import gradio as gr

    holder = _holder(qa)
    settings = holder.qa.settings
    export_dir = Path(tempfile.mkdtemp(prefix="ncpi-qa-export-"))

    def sources_now(confirm: str | None = None) -> str:
        store = holder.qa.store
        allowed = removable(holder.qa.settings, store.documents)
        return IX.render_sources(store.manifest, store.documents, allowed, confirm)

    with gr.Blocks(
        title="NCPI QA — cited answers",
        analytics_enabled=False,
        delete_cache=(3600, 3600),  # Gradio's copies of exports and uploads, hourly
    ) as demo:
        demo.holder = holder  # tests and launch() reach the live QA through this
        gr.HTML(
            "<header><h1>NCPI QA: cited answers from the documents</h1>"
            "<p>Answers quote the indexed documents word for word and cite each quote; when the "
            "documents don't answer, it says so. Click a [n] or a source under an answer to see "
            "the passage.</p></header>",
            elem_id="intro",
        )
        turns = gr.State([])
        # this tab's conversation, kept by the page script under the tab's own key
        saved = gr.Textbox(visible="hidden", elem_id="ncpi-saved", label="saved")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                notice = gr.HTML(IX.notice_html(holder, None), elem_id="notice")
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
                gr.HTML(SKIP_LINK, elem_id="skip")
                with gr.Row():
                    clear = gr.Button(
                        "Clear conversation", elem_id="clear", size="sm", scale=0, min_width=160
                    )
                    export = gr.DownloadButton(
                        "Export as Markdown", elem_id="export", size="sm", scale=0, min_width=160,
                        interactive=False,
                    )  # fmt: skip
                gr.HTML(
                    '<p class="hint">Clear also deletes the conversation saved in this browser '
                    "tab.</p>"
                )
                gr.HTML('<h2 class="examples-title">Examples</h2>')
                with gr.Row(elem_id="examples"):
                    example_buttons = [
                        gr.Button(q, size="sm", elem_classes=["example"]) for q in EXAMPLES
                    ]
            with gr.Column(scale=2, min_width=320, elem_id="side-column"):
                with gr.Tabs(selected="passage", elem_id="side") as tabs:
                    with gr.Tab("Passage", id="passage"):
                        panel = gr.HTML(R.render_panel_empty(), elem_id="panel")
                    with gr.Tab("Sources", id="sources"):
                        sources = gr.HTML(sources_now(), elem_id="sources")
                    with gr.Tab("Add documents", id="add"):
                        upload_box = gr.File(
                            label=IX.upload_label(settings),
                            file_types=sorted(ALLOWED),
                            file_count="single",
                            type="filepath",
                            elem_id="upload",
                        )
                        gr.HTML(IX.upload_limit(settings))
                        upload_status = gr.HTML(status_html(""), elem_id="upload-status")
        action = gr.Textbox(visible="hidden", elem_id="ncpi-action", label="action")
        action_btn = gr.Button("run action", visible="hidden", elem_id="ncpi-action-btn")
        timer = gr.Timer(NOTICE_EVERY_S)

        # -- asking: the question shows at once and Ask is disabled, then the answer
        def start(message, ts):
            q = (message or "").strip()
            return (
                R.render_chat(ts, pending=q or None),
                gr.update(interactive=False),
                gr.update(interactive=False),
                status_html("Searching the documents…"),
            )

        def finish(message, ts, request: gr.Request):
            indexing = holder.indexing  # read before answering: the index it answers from
            ts, turn = answer_turn(holder, message, ts)
            turn = ts[-1] = with_pages(turn, holder.qa.store.documents)
            if indexing and not turn["error"]:
                turn["indexing"] = indexing.get("name")
            ok = not turn["error"]
            # the uploader's panel stays on the upload's progress while they ask
            uploading = bool(indexing) and indexing.get("session") == _session(request)
            path = write_export(ts, export_dir)
            return (
                ts,
                R.render_chat(ts),
                gr.update(value="" if ok else message, interactive=True),
                gr.update(interactive=True),
                first_panel(holder, ts) if ok else gr.update(),
                gr.Tabs(selected="passage") if ok and not uploading else gr.update(),
                status_html(_said(turn), spoken=turn["answer"]),
                R.dump_turns(ts),
                gr.update(value=path, interactive=path is not None),
            )

        _given_request(gr, finish)
        answer_outputs = [turns, chat, box, ask, panel, tabs, status, saved, export]
        gr.on(
            [box.submit, ask.click],
            start,
            [box, turns],
            [chat, box, ask, status],
            queue=False,
            show_progress="hidden",
        ).then(finish, [box, turns], answer_outputs, api_name="ask", show_progress="hidden").then(
            None, js=FOCUS_JS
        )
        for b in example_buttons:
            b.click(lambda q: q, [b], [box], queue=False, show_progress="hidden").then(
                start, [box, turns], [chat, box, ask, status], queue=False, show_progress="hidden"
            ).then(
                finish,
                [box, turns],
                answer_outputs,
                api_visibility="private",
                show_progress="hidden",
            ).then(None, js=FOCUS_JS)
        saved.change(None, [saved], None, js=SAVE_JS, queue=False, show_progress="hidden")

        # -- clicks inside the rendered HTML (citations, documents, feedback, removal)
        def on_action(act, ts):
            kind, _, doc_id = (act or "").partition(":")
            if kind in ("rm", "rmyes", "rmno"):
                if kind == "rmyes":
                    said = remove_document(holder, doc_id)
                else:
                    doc = holder.qa.store.documents.get(doc_id)
                    said = f"Remove {doc.source}? Confirm in Sources." if doc else ""
                confirm = doc_id if kind == "rm" else None
                return (gr.update(), gr.update(), ts, gr.update(), gr.update(),
                        status_html(said), "", sources_now(confirm))  # fmt: skip
            html_panel, ts, said = do_action(holder, act, ts)
            changed = html_panel is not None
            return (
                html_panel if changed else gr.update(),
                gr.Tabs(selected="passage") if changed else gr.update(),
                ts,
                R.render_chat(ts),
                R.dump_turns(ts),
                status_html(said),
                "",
                gr.update(),
            )

        action_btn.click(
            on_action,
            [action, turns],
            [panel, tabs, turns, chat, saved, status, action, sources],
            js="(a, t) => [window.__ncpiAction || a, t]",
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

        def on_clear():
            return (
                [],
                R.render_chat([]),
                R.render_panel_empty(),
                "",
                status_html("Conversation cleared, also from this browser tab."),
                "",
                gr.update(value=None, interactive=False),
            )

        clear.click(
            on_clear,
            None,
            [turns, chat, panel, saved, status, box, export],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

        def on_load(raw, request: gr.Request):
            refresh(holder)
            ts = R.restore_turns(raw, settings.max_history_turns)
            path = write_export(ts, export_dir)
            return (
                ts,
                R.render_chat(ts),
                sources_now(),
                gr.update(value=path, interactive=path is not None),
                IX.notice_html(holder, _session(request)),
            )

        _given_request(gr, on_load)
        demo.load(
            on_load,
            [saved],
            [turns, chat, sources, export, notice],
            js=LOAD_JS,
            api_visibility="private",
            show_progress="hidden",
        )

        def on_tick(request: gr.Request):
            return IX.notice_html(holder, _session(request))

        _given_request(gr, on_tick)
        timer.tick(
            on_tick,
            None,
            [notice],
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )

        def on_upload(path, request: gr.Request):
            if not path:
                yield gr.update(), gr.update(), None
                return
            for html, done in IX.run_upload(holder, path, Path(path).name, _session(request)):
                yield html, sources_now() if done else gr.update(), None if done else gr.update()

        _given_request(gr, on_upload)
        upload_box.upload(
            on_upload,
            [upload_box],
            [upload_status, sources, upload_box],
            api_visibility="private",
            concurrency_limit=1,
            show_progress="hidden",
        )
    return demo


def serve(demo, host: str = "127.0.0.1", port: int | None = None, settings=None, **kwargs):
    """``demo.launch`` with the offline, guarded settings: no share link, no web fonts, no
    footer or run history, Host/Origin/size checks in front of Gradio, optional login."""
    offline_env()
    from starlette.middleware import Middleware

    from ncpi_qa.apps.ui_assets import CSS, HEAD, PAGE_JS, theme

    settings = settings or demo.holder.qa.settings
    allowed = {host, *settings.allowed_hosts, *machine_names(host)}
    max_upload = int(settings.max_file_mb * 1024 * 1024)
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
        head=HEAD + PAGE_JS,
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
    """Load the QA pipeline over the index `ncpi-qa index` built, and serve the chat app (the
    app never builds the index itself; `make run` indexes first)."""
    offline_env()
    from ncpi_qa.qa.pipeline import QA

    host, port = host or settings.host, port or settings.port
    warning = check_bind(host, settings.allow_remote)  # refuses before any slow work
    if settings.auth_file:
        read_auth_file(settings.auth_file)  # a bad file fails here, with its reason
    demo = create_app(QA(settings))  # NoIndexError says to run `ncpi-qa index`
    where = "local only" if warning is None else "REACHABLE FROM OTHER MACHINES"
    if warning:
        login = "login required" if settings.auth_file else "no login: set --auth-file"
        print(f"{warning} ({login}).", flush=True)
    # Gradio's own banner suggests share=True, which this app never uses: print ours instead.
    print(f"ncpi-qa chat on http://{host}:{port} ({where}; Ctrl-C to stop)", flush=True)
    kwargs.setdefault("quiet", True)
    return serve(demo, host, port, settings=settings, **kwargs)
