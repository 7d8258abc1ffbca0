"""The Gradio chat app: ask a question, read the answer, open each citation at its source.

Everything here is offline: no share link, no analytics, no web fonts, no avatars, no CDN.
Every piece of document text that reaches the page goes through ``html.escape`` first.
The handlers (``respond``, ``render_citations``, ``render_sources``) are plain functions, so
tests can call them without a server; ``create_app`` wires them into a ``gr.Blocks``.
"""

from __future__ import annotations

import html
import logging
import os
import re

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # never phone home, whatever the env says
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402  (the env vars above must be set before gradio loads)

from ncpi_qa.errors import NcpiError  # noqa: E402

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many inspections does the 2019 report draw on?",
    "When did HMICFRS begin its child protection inspections?",
    "Which organisations launched the joint targeted area inspections?",
    "What did the PCC's response say?",
]
CLOSEST_LABEL = "Closest passages (not an answer)"
WINDOW = 300  # characters of context either side of a quote when its chunk is not at hand

CSS = """
.ncpi-panel h3 { margin: 0.2em 0 0.5em; font-size: 1.05em; }
.ncpi-panel .empty { opacity: 0.7; font-style: italic; }
.ncpi-panel details { border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 0.35em 0.6em; margin: 0 0 0.5em; background: var(--background-fill-secondary); }
.ncpi-panel summary { cursor: pointer; font-weight: 600; }
.ncpi-panel .passage { white-space: pre-wrap; line-height: 1.5; margin: 0.5em 0 0.2em; }
.ncpi-panel mark { background: #ffe066; color: #111; padding: 0 2px; border-radius: 2px; }
.ncpi-panel .meta { font-size: 0.85em; opacity: 0.8; }
.ncpi-panel .scores { display: block; font-family: var(--font-mono); font-size: 0.85em;
  font-weight: normal; opacity: 0.85; margin-left: 1.1em; }
.ncpi-panel .closest { color: var(--body-text-color-subdued); }
"""


def theme():
    """System fonts only: the default theme's web fonts would be one more thing to fetch."""
    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"])


def _esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


def _md_text(value: str) -> str:
    """Text shown literally inside the (markdown) chatbot: markdown and HTML both escaped."""
    return html.escape(_MD_SPECIAL.sub(r"\\\1", value), quote=False)


def _label(title, section, page) -> str:
    """'Title § Section, p. N', with the section left out when it just repeats the title."""
    text = str(title or "")
    if section and section != title:
        text += f" § {section}"
    if page is not None:
        text += f", p. {page}"
    return text


def _doc_text(documents, doc_id) -> str | None:
    doc = (documents or {}).get(doc_id)
    if doc is None:
        return None
    return doc if isinstance(doc, str) else getattr(doc, "text", None)


def _context(citation: dict, passages: list[dict], documents) -> tuple[str, int, int]:
    """The passage around a citation: (text, quote start, quote end) offsets within it.

    The chunk the quote came from, cut from the document text so the offsets are exact;
    failing that, a window of the document around the quote; failing that, the quote alone.
    """
    start, end, quote = citation["start"], citation["end"], citation.get("quote") or ""
    text = _doc_text(documents, citation["doc_id"])
    if text is not None and text[start:end] == quote:
        for p in passages:
            if (
                p.get("chunk_id") == citation.get("chunk_id")
                and p["doc_id"] == citation["doc_id"]
                and p["start"] <= start
                and end <= p["end"]
            ):
                return text[p["start"] : p["end"]], start - p["start"], end - p["start"]
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        return text[lo:hi], start - lo, end - lo
    return quote, 0, len(quote)


def render_citations(result: dict | None, documents) -> str:
    """One <details> per citation: the label, and the source passage with the quote marked."""
    if not result:
        return (
            '<div class="ncpi-panel" id="citations"><h3>Citations</h3>'
            '<p class="empty">Ask a question; its citations appear here.</p></div>'
        )
    cites = result.get("citations") or []
    if not cites:
        why = (
            "The documents don't answer this, so nothing is cited."
            if result.get("abstained")
            else "No citations."
        )
        return (
            f'<div class="ncpi-panel" id="citations"><h3>Citations</h3>'
            f'<p class="empty">{_esc(why)}</p></div>'
        )
    items = []
    for c in cites:
        text, qs, qe = _context(c, result.get("passages") or [], documents)
        body = f"{_esc(text[:qs])}<mark>{_esc(text[qs:qe])}</mark>{_esc(text[qe:])}"
        label = _label(c.get("title"), c.get("section"), c.get("page"))
        items.append(
            f'<details class="citation" data-n="{_esc(c["n"])}" id="citation-{_esc(c["n"])}">'
            f"<summary>[{_esc(c['n'])}] {_esc(label)}</summary>"
            f'<div class="passage">{body}</div>'
            f'<div class="meta">{_esc(c["doc_id"])} [{_esc(c["start"])}:{_esc(c["end"])}]'
            f" · sentence score {_esc(c.get('score'))}</div></details>"
        )
    return (
        '<div class="ncpi-panel" id="citations"><h3>Citations '
        '<span class="meta">(click one to see it in its source)</span></h3>'
        + "".join(items)
        + "</div>"
    )


def render_sources(result: dict | None) -> str:
    """The retrieved passages with their scores; after an abstention, labelled as not an answer."""
    if not result:
        return (
            '<div class="ncpi-panel" id="sources"><h3>Retrieved passages</h3>'
            '<p class="empty">Nothing retrieved yet.</p></div>'
        )
    passages = result.get("passages") or []
    abstained = bool(result.get("abstained"))
    heading = CLOSEST_LABEL if abstained else "Retrieved passages"
    items = []
    for i, p in enumerate(passages, 1):
        label = _label(p.get("title"), p.get("section"), p.get("page"))
        bm25 = p.get("bm25")
        scores = f"RRF {_esc(p.get('score'))} · cosine {_esc(p.get('similarity'))}" + (
            "" if bm25 is None else f" · BM25 {_esc(bm25)}"
        )
        items.append(
            f'<details class="source{" closest" if abstained else ""}" data-rank="{i}">'
            f'<summary>#{i} {_esc(label)}<span class="scores">{scores}</span></summary>'
            f'<div class="passage">{_esc(p.get("text"))}</div>'
            f'<div class="meta">{_esc(p.get("chunk_id"))}</div></details>'
        )
    if not items:
        items.append('<p class="empty">No passage was retrieved.</p>')
    cls = "ncpi-panel abstained" if abstained else "ncpi-panel"
    return f'<div class="{cls}" id="sources"><h3>{_esc(heading)}</h3>' + "".join(items) + "</div>"


def format_answer(result: dict) -> str:
    """The chat message: the answer, then its numbered citations (all text escaped)."""
    lines = [_md_text(result["answer"])]
    if result.get("citations"):
        lines.append("")
        lines.append("**Sources** (open them in the Citations panel):")
        for c in result["citations"]:
            label = _label(c.get("title"), c.get("section"), c.get("page"))
            lines.append(f"\\[{_esc(c['n'])}\\] {_md_text(label)}  ")
    elif result.get("abstained"):
        lines.append("")
        lines.append("*The passages beside are the closest ones found; they are not an answer.*")
    return "\n".join(lines)


def respond(qa, message: str | None, history: list | None):
    """Answer ``message``; return (history, citations_html, sources_html).

    Bad questions (empty, too long) and unexpected failures become a chat message.
    """
    history = list(history or [])
    question = (message or "").strip()
    if question:
        history.append({"role": "user", "content": _md_text(question)})
    try:
        result = qa.ask(message or "").to_dict()
    except NcpiError as e:
        history.append({"role": "assistant", "content": f"⚠️ {_md_text(str(e))}"})
        return history, render_citations(None, None), render_sources(None)
    except Exception as e:  # keep the app alive; the traceback goes to the log, not the page
        log.exception("question failed")
        history.append(
            {
                "role": "assistant",
                "content": "⚠️ Something went wrong answering "
                f"this ({_md_text(type(e).__name__)}). See the server log.",
            }
        )
        return history, render_citations(None, None), render_sources(None)
    history.append({"role": "assistant", "content": format_answer(result)})
    return history, render_citations(result, qa.store.documents), render_sources(result)


def create_app(qa) -> gr.Blocks:
    """The chat app around an already-loaded ``QA``. Start it with ``serve`` or ``launch``."""

    def on_submit(message, history):
        history, cites, sources = respond(qa, message, history)
        return "", history, cites, sources

    def on_clear():
        return "", [], render_citations(None, None), render_sources(None)

    n_docs = len(qa.store.documents)
    with gr.Blocks(title="NCPI QA", analytics_enabled=False) as demo:
        gr.Markdown(
            "## NCPI QA — cited answers from the documents\n"
            f"Answers quote the {n_docs} indexed document{'s' if n_docs != 1 else ''} word for "
            "word and cite each quote; when the documents don't answer, it says so."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Chat",
                    elem_id="chat",
                    height=520,
                    buttons=["copy"],
                    feedback_options=None,
                    sanitize_html=True,
                    allow_tags=False,
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question about the documents…",
                        show_label=False,
                        elem_id="question",
                        scale=5,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=0, min_width=90)
                    clear = gr.Button("Clear", elem_id="clear", scale=0, min_width=90)
                gr.Examples(EXAMPLES, inputs=[box], label="Examples")
            with gr.Column(scale=2):
                cites = gr.HTML(render_citations(None, None), elem_id="citations-panel")
                sources = gr.HTML(render_sources(None), elem_id="sources-panel")
        outputs = [box, chat, cites, sources]
        gr.on([box.submit, ask.click], on_submit, [box, chat], outputs, api_name="ask")
        clear.click(on_clear, None, outputs, api_visibility="private")
    return demo


def serve(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, **kwargs):
    """``demo.launch`` with the offline settings: local only, no share link, no web fonts."""
    return demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        theme=theme(),
        css=CSS,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        show_error=False,
        enable_monitoring=False,
        footer_links=["api", "settings"],
        **kwargs,
    )


def launch(settings, host: str | None = None, port: int | None = None, **kwargs):
    """Build (or update) the index, load the QA pipeline, and serve the chat app."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    build_index(settings)  # a quick no-op when the index is up to date
    qa = QA(settings)
    demo = create_app(qa)
    host, port = host or settings.host, port or settings.port
    # Gradio's own banner suggests share=True, which this app never uses: print ours instead.
    print(f"ncpi-qa chat on http://{host}:{port} (local only; Ctrl-C to stop)", flush=True)
    kwargs.setdefault("quiet", True)
    return serve(demo, host, port, **kwargs)
