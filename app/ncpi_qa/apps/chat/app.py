"""The Gradio chat app: ask, read the answer, open each answer's own citations at their source.

Offline: no share link, no analytics, no web fonts, no avatars, no CDN. All document text is
escaped (``render``). The handlers (``handlers``: ``answer_turn``, ``do_action``, ...;
``uploads.add_document``) are plain functions over a ``Holder`` of the current ``QA`` and a
list of ``schema.Turn``s, so tests call them without a server. ``create_app`` lays out the
page (``_layout``) and wires each event (``_wire``) to an ``events.ChatEvents`` method that
turns those results into Gradio updates; ``serve``/``launch`` start it (``server`` guards the
HTTP side, ``assets`` holds the theme, CSS and page scripts, ``indexing`` an upload's
progress, the notice to other users and Sources, ``docview`` the whole-document view).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.apps.chat import indexing as IX
from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.docview import render_panel_empty
from ncpi_qa.apps.chat.handlers import _holder, status_html
from ncpi_qa.apps.chat.server import Guard, check_bind, machine_names, read_auth_file
from ncpi_qa.apps.chat.uploads import ALLOWED

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
# The conversation's, the side panel's and Sources' js_on_load (Gradio 6's HTML component):
# a click on an element with data-action (but "copy", which the page script does) is this
# component's click event, the action its data (read by actions.parse_action). Once per
# element: the listener stays on it when its HTML is drawn again.
ACTION_JS = """
if (element.dataset.ncpiClicks) { return; }
element.dataset.ncpiClicks = '1';
element.addEventListener('click', function (e) {
  var el = e.target.closest && e.target.closest('[data-action]');
  var action = el && element.contains(el) && el.getAttribute('data-action');
  if (action && action !== 'copy') { trigger('click', { action: action }); }
});
"""
INTRO = (
    "<header><h1>NCPI QA: cited answers from the documents</h1>"
    "<p>Answers quote the indexed documents word for word and cite each quote; when the "
    "documents don't answer, it says so. Click a [n] or a source under an answer to see "
    "the passage.</p></header>"
)
CLEAR_HINT = '<p class="hint">Clear also deletes the conversation saved in this browser tab.</p>'
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


def create_app(qa):
    """The chat app around an already-loaded ``QA`` (or a ``Holder``). Start it with ``serve``."""
    offline_env()
    import gradio as gr

    from ncpi_qa.apps.chat.events import ChatEvents

    holder = _holder(qa)
    events = ChatEvents(holder, Path(tempfile.mkdtemp(prefix="ncpi-qa-export-")))
    with gr.Blocks(
        title="NCPI QA — cited answers",
        analytics_enabled=False,
        delete_cache=(3600, 3600),  # Gradio's copies of exports and uploads, hourly
    ) as demo:
        demo.holder = holder  # tests and launch() reach the live QA through this
        _wire(gr, demo, _layout(gr, holder, events), events)
    return demo


@dataclass
class Widgets:
    """The chat's components, so that the layout and the wiring are separate functions."""

    turns: object
    saved: object
    notice: object
    chat: object
    status: object
    box: object
    ask: object
    clear: object
    export: object
    examples: list
    tabs: object
    panel: object
    sources: object
    upload: object
    upload_status: object
    timer: object
    sources_key: object


def _layout(gr, holder, events) -> Widgets:
    """The page: the conversation and the question box on the left, the passage, Sources and
    Add documents tabs on the right."""
    settings = holder.qa.settings
    gr.HTML(INTRO, elem_id="intro")
    turns = gr.State([])
    # this tab's conversation, kept by the page script under the tab's own key
    saved = gr.Textbox(visible="hidden", elem_id="ncpi-saved", label="saved")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            notice = gr.HTML(IX.notice_html(holder, None), elem_id="notice")
            chat = gr.HTML(R.render_chat([]), elem_id="chat", js_on_load=ACTION_JS)
            status = gr.HTML(status_html(""), elem_id="status")
            with gr.Row(elem_id="ask-row"):
                box = gr.Textbox(
                    label="Your question", placeholder="Ask about the documents…",
                    elem_id="question", lines=1, max_lines=4, scale=5,
                    max_length=settings.max_question_chars * 2,
                )  # fmt: skip
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
            gr.HTML(CLEAR_HINT)
            gr.HTML('<h2 class="examples-title">Examples</h2>')
            with gr.Row(elem_id="examples"):
                examples = [gr.Button(q, size="sm", elem_classes=["example"]) for q in EXAMPLES]
        with gr.Column(scale=2, min_width=320, elem_id="side-column"):
            with gr.Tabs(selected="passage", elem_id="side") as tabs:
                with gr.Tab("Passage", id="passage"):
                    panel = gr.HTML(render_panel_empty(), elem_id="panel", js_on_load=ACTION_JS)
                with gr.Tab("Sources", id="sources"):
                    sources = gr.HTML(events.sources_now(), elem_id="sources", js_on_load=ACTION_JS)
                with gr.Tab("Add documents", id="add"):
                    upload = gr.File(
                        label=IX.upload_label(settings), file_types=sorted(ALLOWED),
                        file_count="single", type="filepath", elem_id="upload",
                    )  # fmt: skip
                    gr.HTML(IX.upload_limit(settings))
                    upload_status = gr.HTML(status_html(""), elem_id="upload-status")
    return Widgets(turns, saved, notice, chat, status, box, ask, clear, export, examples, tabs,
                   panel, sources, upload, upload_status,
                   gr.Timer(NOTICE_EVERY_S), gr.State(events.sources_key()))  # fmt: skip


def _wire(gr, demo, w: Widgets, ev) -> None:
    """Each event to its ``ChatEvents`` handler. Only ``ask`` is a public API route."""
    quiet = {"show_progress": "hidden"}
    private = {"api_visibility": "private", **quiet}
    asking = ([w.box, w.turns], [w.chat, w.box, w.ask, w.status])
    answered = [w.turns, w.chat, w.box, w.ask, w.panel, w.tabs, w.status, w.saved, w.export]
    gr.on([w.box.submit, w.ask.click], ev.start, *asking, queue=False, **quiet).then(
        ev.finish, [w.box, w.turns], answered, api_name="ask", **quiet
    ).then(None, js=FOCUS_JS)
    for b in w.examples:
        b.click(lambda q: q, [b], [w.box], queue=False, **quiet).then(
            ev.start, *asking, queue=False, **quiet
        ).then(ev.finish, [w.box, w.turns], answered, **private).then(None, js=FOCUS_JS)
    w.saved.change(None, [w.saved], None, js=SAVE_JS, queue=False, **quiet)
    # a click on a [data-action] inside the conversation, the side panel or Sources: the HTML
    # component's own click event, its data the action (ACTION_JS, actions.parse_action);
    # always_last: a click while the last one runs is run after it, never dropped
    gr.on(
        [w.chat.click, w.panel.click, w.sources.click],
        ev.action,
        [w.turns],
        [w.panel, w.tabs, w.turns, w.chat, w.saved, w.status, w.sources, w.sources_key],
        queue=False,
        trigger_mode="always_last",
        **private,
    )
    w.clear.click(
        ev.clear, None, [w.turns, w.chat, w.panel, w.saved, w.status, w.box, w.export],
        queue=False, **private,
    )  # fmt: skip
    demo.load(
        ev.load, [w.saved], [w.turns, w.chat, w.sources, w.export, w.notice, w.sources_key],
        js=LOAD_JS,
        **private,
    )  # fmt: skip
    w.timer.tick(ev.tick, [w.sources_key], [w.notice, w.sources, w.sources_key], queue=False,
                 **private)  # fmt: skip
    w.upload.upload(
        ev.upload, [w.upload], [w.upload_status, w.sources, w.upload, w.sources_key, w.notice],
        concurrency_limit=1, **private,
    )  # fmt: skip


def serve(demo, host: str = "127.0.0.1", port: int | None = None, settings=None, **kwargs):
    """``demo.launch`` with the offline, guarded settings: no share link, no web fonts, no
    footer or run history, Host/Origin/size checks in front of Gradio, optional login."""
    offline_env()
    from starlette.middleware import Middleware

    from ncpi_qa.apps.chat.assets import CSS, HEAD, theme
    from ncpi_qa.apps.chat.pagejs import PAGE_JS

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
    """Serve the chat app over the index `ncpi-qa index` built, loading the QA pipeline's
    models meanwhile (the app never builds the index itself; `make run` indexes first)."""
    offline_env()
    from ncpi_qa.apps.chat.loading import LoadingQA
    from ncpi_qa.apps.chat.uploads import Holder
    from ncpi_qa.index.backend import open_store

    host, port = host or settings.host, port or settings.port
    warning = check_bind(host, settings.allow_remote)  # refuses before any slow work
    if settings.auth_file:
        read_auth_file(settings.auth_file)  # a bad file fails here, with its reason
    # The models load in the background while Gradio starts (apps/chat/loading.py); the page
    # needs only the index, opened here (NoIndexError says to run `ncpi-qa index`).
    holder = Holder(None)
    holder.qa = LoadingQA(settings, open_store(settings), holder).start()
    demo = create_app(holder)
    where = "local only" if warning is None else "REACHABLE FROM OTHER MACHINES"
    if warning:
        login = "login required" if settings.auth_file else "no login: set --auth-file"
        print(f"{warning} ({login}).", flush=True)
    # Gradio's own banner suggests share=True, which this app never uses: print ours instead.
    print(f"ncpi-qa chat on http://{host}:{port} ({where}; Ctrl-C to stop)", flush=True)
    kwargs.setdefault("quiet", True)
    return serve(demo, host, port, settings=settings, **kwargs)
