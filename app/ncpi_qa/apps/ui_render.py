"""HTML and text for the chat app: the conversation, a citation, a document, the sources list.

Pure functions over plain data (no Gradio), so tests call them directly. Every piece of
document text, question and title goes through ``html.escape`` before it reaches the page.

A conversation is a list of *turns* (JSON-serialisable dicts, kept in the browser too)::

    {"q": asked, "searched": rewritten question or None, "answer": text, "abstained": bool,
     "error": bool, "citations": [{n, doc_id, title, section, page, quote, start, end,
     score, chunk_id, label}], "passages": [{chunk_id, doc_id, start, end, label, score,
     similarity, bm25}], "feedback": None | "up" | "down"}

Clickable things carry ``data-action``: ``cite:T:N`` opens turn T's citation N, ``doc:ID``
opens a whole document, ``fb:T:up|down`` records feedback, ``copy`` copies ``data-copy``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from ncpi_qa.schema import citation_label

CITE_FIELDS = ("n", "doc_id", "title", "section", "page", "quote", "start", "end", "score")
PASSAGE_FIELDS = ("chunk_id", "doc_id", "start", "end", "score", "similarity", "bm25")
MAX_TEXT = 4000  # longest question/answer/quote kept in a turn restored from the browser
MAX_ITEMS = 20  # most citations/passages kept per restored turn


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------------------- turns


def make_turn(question: str, searched: str | None, result: dict | None, error: str = "") -> dict:
    """A turn from ``Answer.to_dict()`` (or an error message), trimmed to what the UI needs."""
    if result is None:
        return {
            "q": question,
            "searched": searched,
            "answer": error,
            "abstained": False,
            "error": True,
            "citations": [],
            "passages": [],
            "feedback": None,
        }
    cites = []
    for c in result.get("citations") or []:
        d = {k: c.get(k) for k in CITE_FIELDS}
        d["chunk_id"] = c.get("chunk_id")
        d["label"] = c.get("label") or citation_label(
            c.get("title"), c.get("section"), c.get("page")
        )
        cites.append(d)
    passages = []
    for p in result.get("passages") or []:
        d = {k: p.get(k) for k in PASSAGE_FIELDS}
        d["label"] = p.get("label") or citation_label(
            p.get("title"), p.get("section"), p.get("page")
        )
        passages.append(d)
    return {
        "q": question,
        "searched": searched,
        "answer": result.get("answer", ""),
        "abstained": bool(result.get("abstained")),
        "error": False,
        "citations": cites,
        "passages": passages,
        "feedback": None,
    }


def _clip(value, limit: int = MAX_TEXT) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) else ""


def _int(value, default=None):
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _num(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def sanitize_turns(raw, max_turns: int) -> list[dict]:
    """Turns sent back by the browser, checked field by field and bounded: anything that is
    not the expected shape is dropped, long strings are cut, only the last turns are kept."""
    if not isinstance(raw, list):
        return []
    turns = []
    for t in raw[-max_turns:]:
        if not isinstance(t, Mapping) or not isinstance(t.get("q"), str):
            continue
        cites = []
        for c in (t.get("citations") if isinstance(t.get("citations"), list) else [])[:MAX_ITEMS]:
            if not isinstance(c, Mapping) or _int(c.get("n")) is None:
                continue
            start, end = _int(c.get("start"), 0), _int(c.get("end"), 0)
            cites.append(
                {
                    "n": c["n"],
                    "doc_id": _clip(c.get("doc_id", ""), 300),
                    "title": _clip(c.get("title", ""), 300),
                    "section": _clip(c.get("section", ""), 300),
                    "page": _int(c.get("page")),
                    "quote": _clip(c.get("quote", "")),
                    "start": start,
                    "end": end,
                    "score": _num(c.get("score")),
                    "chunk_id": _clip(c.get("chunk_id", ""), 300),
                    "label": _clip(c.get("label", ""), 600),
                }
            )
        passages = []
        for p in (t.get("passages") if isinstance(t.get("passages"), list) else [])[:MAX_ITEMS]:
            if not isinstance(p, Mapping):
                continue
            passages.append(
                {
                    "chunk_id": _clip(p.get("chunk_id", ""), 300),
                    "doc_id": _clip(p.get("doc_id", ""), 300),
                    "start": _int(p.get("start"), 0),
                    "end": _int(p.get("end"), 0),
                    "score": _num(p.get("score")),
                    "similarity": _num(p.get("similarity")),
                    "bm25": _num(p.get("bm25")),
                    "label": _clip(p.get("label", ""), 600),
                }
            )
        searched = t.get("searched")
        feedback = t.get("feedback")
        turns.append(
            {
                "q": _clip(t["q"]),
                "searched": _clip(searched) if isinstance(searched, str) else None,
                "answer": _clip(t.get("answer", "")),
                "abstained": t.get("abstained") is True,
                "error": t.get("error") is True,
                "citations": cites,
                "passages": passages,
                "feedback": feedback if feedback in ("up", "down") else None,
            }
        )
    return turns


def display_labels(citations: list[dict]) -> dict[int, str]:
    """The label each citation is shown with, distinct within one answer: citations that
    share a document, section and page are told apart by the start of their quote."""
    base = {
        c["n"]: c.get("label") or citation_label(c.get("title"), c.get("section"), c.get("page"))
        for c in citations
    }
    counts: dict[str, int] = {}
    for label in base.values():
        counts[label] = counts.get(label, 0) + 1
    out = {}
    for c in citations:
        label = base[c["n"]]
        if counts[label] > 1:
            words = (c.get("quote") or "").split()
            label = f"{label} · “{' '.join(words[:6])}{'…' if len(words) > 6 else ''}”"
        out[c["n"]] = label
    return out


# ---------------------------------------------------------------------------- plain text


def answer_text(turn: dict) -> str:
    """An answer as clean text for the clipboard: the answer, then each source with its quote."""
    lines = [turn.get("answer", "")]
    labels = display_labels(turn.get("citations") or [])
    if turn.get("citations"):
        lines += ["", "Sources:"]
        for c in turn["citations"]:
            lines.append(f"[{c['n']}] {labels[c['n']]} — “{c.get('quote', '')}”")
    return "\n".join(lines)


def export_markdown(turns: list[dict]) -> str:
    """The whole conversation as Markdown, each answer followed by its quoted citations."""
    out = ["# NCPI QA conversation", ""]
    for t in turns:
        out.append(f"## Q: {t['q']}")
        if t.get("searched"):
            out.append(f"*Searching for: {t['searched']}*")
        out += ["", t.get("answer", ""), ""]
        labels = display_labels(t.get("citations") or [])
        for c in t.get("citations") or []:
            out.append(
                f"[{c['n']}] **{labels[c['n']]}** "
                f"({c['doc_id']}, characters {c['start']}–{c['end']})"
            )
            out.append(f"> {c.get('quote', '')}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------- chat


_MARKER = re.compile(r"\[(\d{1,3})\]")


def _answer_html(i: int, turn: dict, labels: dict[int, str]) -> str:
    """The answer text, escaped, its [n] markers turned into buttons that open the citation."""
    text = esc(turn.get("answer", ""))

    def button(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in labels:
            return m.group(0)
        return (
            f'<button type="button" class="cite-ref" data-action="cite:{i}:{n}" '
            f'aria-label="Citation {n}: {esc(labels[n])}">[{n}]</button>'
        )

    return _MARKER.sub(button, text).replace("\n", "<br>")


def render_turn(i: int, turn: dict) -> str:
    labels = display_labels(turn.get("citations") or [])
    parts = [
        f'<div class="turn" id="turn-{i}" data-turn="{i}">',
        f'<div class="msg user"><span class="who">You</span><p>{esc(turn["q"])}</p></div>',
        '<div class="msg bot"><span class="who">NCPI QA</span>',
    ]
    if turn.get("searched"):
        parts.append(f'<p class="searched">Searching for: <q>{esc(turn["searched"])}</q></p>')
    cls = "answer error" if turn.get("error") else "answer"
    parts.append(f'<p class="{cls}">{_answer_html(i, turn, labels)}</p>')
    if turn.get("citations"):
        parts.append(f'<ul class="chips" aria-label="Sources for answer {i + 1}">')
        for c in turn["citations"]:
            parts.append(
                f'<li><button type="button" class="chip" data-action="cite:{i}:{c["n"]}">'
                f"[{c['n']}] {esc(labels[c['n']])}</button></li>"
            )
        parts.append("</ul>")
    elif turn.get("abstained"):
        parts.append(
            '<p class="note">The closest passages are shown under Passage; '
            "they are not an answer.</p>"
        )
    if not turn.get("error"):
        fb = turn.get("feedback")
        copy = esc(answer_text(turn))
        up, down = str(fb == "up").lower(), str(fb == "down").lower()
        parts.append(
            '<div class="actions">'
            f'<button type="button" class="copy" data-action="copy" data-copy="{copy}" '
            f'aria-label="Copy answer {i + 1} with its sources">Copy</button>'
            f'<button type="button" class="fb" data-action="fb:{i}:up" aria-pressed="{up}">'
            "Helpful</button>"
            f'<button type="button" class="fb" data-action="fb:{i}:down" aria-pressed="{down}">'
            "Not helpful</button></div>"
        )
    parts.append("</div></div>")
    return "".join(parts)


def render_chat(turns: list[dict], pending: str | None = None) -> str:
    """The conversation; ``pending`` is a question being answered right now."""
    body = [render_turn(i, t) for i, t in enumerate(turns)]
    if pending is not None:
        body.append(
            '<div class="turn pending"><div class="msg user"><span class="who">You</span>'
            f'<p>{esc(pending)}</p></div><div class="msg bot"><span class="who">NCPI QA</span>'
            '<p class="answer">Searching the documents…</p></div></div>'
        )
    if not body:
        body.append('<p class="empty">Ask a question about the documents to begin.</p>')
    return (
        '<div id="chatlog" role="log" aria-live="polite" aria-label="Conversation">'
        + "".join(body)
        + "</div>"
    )


# ---------------------------------------------------------------------------- side panel


def _doc_text(documents, doc_id) -> str | None:
    doc = (documents or {}).get(doc_id)
    if doc is None:
        return None
    return doc if isinstance(doc, str) else getattr(doc, "text", None)


def _marked(text: str, start: int, end: int) -> str:
    return (
        f'{esc(text[:start])}<mark id="quote-mark">{esc(text[start:end])}</mark>{esc(text[end:])}'
    )


WINDOW = 300  # context either side of a quote whose chunk is unknown


def passage_around(citation: dict, passages: list[dict], documents) -> tuple[str, int, int, bool]:
    """(passage text, quote start, quote end, verified) for a citation.

    The chunk the quote came from, cut from the document's text so the offsets are exact;
    failing that a window around it; when the document no longer holds the quote at those
    offsets (it was re-indexed), the quote alone, not verified.
    """
    start, end, quote = citation["start"], citation["end"], citation.get("quote") or ""
    text = _doc_text(documents, citation["doc_id"])
    if text is not None and 0 <= start <= end <= len(text) and text[start:end] == quote:
        for p in passages:
            if (
                p.get("chunk_id") == citation.get("chunk_id")
                and p.get("doc_id") == citation["doc_id"]
                and p["start"] <= start
                and end <= p["end"] <= len(text)
            ):
                return text[p["start"] : p["end"]], start - p["start"], end - p["start"], True
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        return text[lo:hi], start - lo, end - lo, True
    return quote, 0, len(quote), False


def render_citation(turns: list[dict], i: int, n: int, documents) -> str:
    """Turn i's citation n: its label, the passage with the quote marked, details on demand."""
    if not (0 <= i < len(turns)):
        return render_panel_empty("That answer is no longer in this conversation.")
    turn = turns[i]
    cite = next((c for c in turn.get("citations") or [] if c["n"] == n), None)
    if cite is None:
        return render_panel_empty("That citation is not part of the answer.")
    labels = display_labels(turn["citations"])
    text, qs, qe, ok = passage_around(cite, turn.get("passages") or [], documents)
    note = (
        ""
        if ok
        else (
            '<p class="note">The document has changed since this answer; showing the quote '
            "as it was.</p>"
        )
    )
    return (
        f'<section class="ncpi-panel citation-view" data-turn="{i}" data-n="{esc(n)}" '
        f'aria-label="Citation {esc(n)}">'
        f"<h2>[{esc(n)}] {esc(labels[n])}</h2>"
        f'<p class="for">Cited in the answer to: <q>{esc(turn["q"])}</q></p>'
        f"{note}"
        f'<div class="passage">{_marked(text, qs, qe)}</div>'
        f'<p><button type="button" class="open-doc" '
        f'data-action="doc:{esc(cite["doc_id"])}:{i}:{esc(n)}">'
        "Open the whole document at this quote</button></p>"
        "<details><summary>Details</summary>"
        f'<p class="meta">Document id {esc(cite["doc_id"])} · characters {esc(cite["start"])}–'
        f"{esc(cite['end'])} · sentence score {esc(cite.get('score'))} · chunk "
        f"{esc(cite.get('chunk_id'))}</p></details>"
        f"{_retrieved(turn)}</section>"
    )


def _retrieved(turn: dict) -> str:
    """The passages retrieved for the answer, labels first, scores behind a toggle."""
    passages = turn.get("passages") or []
    if not passages:
        return ""
    items = "".join(
        f'<li>{esc(p.get("label"))}<span class="meta"> · fused {esc(p.get("score"))} · '
        f"cosine {esc(p.get('similarity'))} · BM25 {esc(p.get('bm25'))}</span></li>"
        for p in passages
    )
    summary = f"<summary>Retrieved passages ({len(passages)})</summary>"
    return f"<details>{summary}<ol>{items}</ol></details>"


def render_closest(turns: list[dict], i: int, documents) -> str:
    """After an abstention: the closest passages, plainly labelled as not an answer."""
    turn = turns[i]
    items = []
    for p in turn.get("passages") or []:
        text = _doc_text(documents, p.get("doc_id")) or ""
        body = text[p["start"] : p["end"]] if p["end"] <= len(text) else ""
        items.append(
            f'<li><p class="label">{esc(p.get("label"))}</p>'
            f'<div class="passage">{esc(body)}</div></li>'
        )
    return (
        '<section class="ncpi-panel closest"><h2>Closest passages (not an answer)</h2>'
        f'<p class="for">For: <q>{esc(turn["q"])}</q>. The documents don\'t answer this.</p>'
        f"<ol>{''.join(items)}</ol></section>"
    )


def render_panel_empty(message: str = "Open a citation [n] from an answer to see it here.") -> str:
    return f'<section class="ncpi-panel"><p class="empty">{esc(message)}</p></section>'


def page_of(doc, offset: int) -> int | None:
    for start, end, number in getattr(doc, "pages", None) or []:
        if start <= offset < end:
            return number
    return None


def render_document(doc, start: int | None = None, end: int | None = None) -> str:
    """A whole document's extracted text; the quote [start:end] marked when given and valid."""
    if doc is None:
        return render_panel_empty("That document is not in the index any more.")
    text = doc.text
    if start is not None and end is not None and 0 <= start <= end <= len(text):
        body = _marked(text, start, end)
        page = page_of(doc, start)
        where = f" (quote on page {page})" if page is not None else ""
        intro = f'<p class="for">The highlighted text is the quote{esc(where)}.</p>'
    else:
        body, intro = esc(text), ""
    return (
        f'<section class="ncpi-panel document-view" data-doc="{esc(doc.doc_id)}" '
        f'aria-label="Document">'
        f"<h2>{esc(doc.title)}</h2>"
        f'<p class="meta">{esc(doc.kind)} · {esc(doc.source)}</p>{intro}'
        f'<div class="passage doc-text">{body}</div></section>'
    )


def render_sources(manifest: dict, documents) -> str:
    """The indexed documents: title, type, pages, chunks, when indexed, each one openable."""
    docs = manifest.get("documents") or []
    built = manifest.get("built_at", "")
    rows = []
    for d in docs:
        doc = (documents or {}).get(d["doc_id"])
        pages = len({p[2] for p in getattr(doc, "pages", None) or []}) or "—"
        rows.append(
            "<tr>"
            f'<td><button type="button" class="open-doc" data-action="doc:{esc(d["doc_id"])}">'
            f"{esc(d.get('title') or d['doc_id'])}</button></td>"
            f"<td>{esc(d.get('kind'))}</td><td>{esc(pages)}</td><td>{esc(d.get('n_chunks'))}</td>"
            f"<td>{esc(built)}</td></tr>"
        )
    skipped = "".join(
        f"<li>{esc(name)}: {esc(why)}</li>" for name, why in manifest.get("skipped") or []
    )
    return (
        '<section class="ncpi-panel sources-view" aria-label="Indexed documents">'
        f"<h2>Indexed documents ({len(docs)})</h2>"
        '<table><thead><tr><th scope="col">Title</th><th scope="col">Type</th>'
        '<th scope="col">Pages</th><th scope="col">Chunks</th><th scope="col">Indexed</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        + (f"<h3>Skipped files</h3><ul>{skipped}</ul>" if skipped else "")
        + "</section>"
    )
