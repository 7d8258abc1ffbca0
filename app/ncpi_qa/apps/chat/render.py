"""HTML for the chat app: the conversation, a citation, a closest passage (the whole
document is ``docview``'s, the sources list ``indexing``'s, the export ``export``'s).

Pure functions over typed turns (``schema.Turn``; no Gradio), so tests call them directly.
Every piece of document text, question and title goes through ``html.escape`` before it
reaches the page.

Clickable things carry ``data-action`` (read by ``actions.parse_action``): ``cite:T:N``
opens turn T's citation N, ``near:T:K`` turn T's closest passage K (a declined answer's),
``doc:ID`` opens a whole document, ``fb:T:up|down`` records feedback, ``copy`` copies
``data-copy``.
"""

from __future__ import annotations

import re

from ncpi_qa.apps.chat.docview import esc, page_figure, pages_of, render_panel_empty
from ncpi_qa.apps.chat.export import answer_text, display_labels
from ncpi_qa.schema import Turn, TurnCitation, TurnPassage

# a passage scrolls on its own (max-height): focusable, so a keyboard can scroll it
# (axe-core: scrollable-region-focusable), and named for a screen reader
SCROLLS = 'tabindex="0" role="region" aria-label="Passage text"'


# ---------------------------------------------------------------------------- chat


_MARKER = re.compile(r"\[(\d{1,3})\]")


def _answer_html(i: int, turn: Turn, labels: dict[int, str]) -> str:
    """The answer text, escaped, its [n] markers turned into buttons that open the citation."""
    text = esc(turn.answer)

    def button(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in labels:
            return m.group(0)
        return (
            f'<button type="button" class="cite-ref" data-action="cite:{i}:{n}" '
            f'aria-label="Citation {n}: {esc(labels[n])}">[{n}]</button>'
        )

    return _MARKER.sub(button, text).replace("\n", "<br>")


def render_turn(i: int, turn: Turn) -> str:
    labels = display_labels(turn.citations)
    parts = [f'<div class="turn" id="turn-{i}" data-turn="{i}">']
    if turn.question.strip():  # an empty question gets its message, without an empty bubble
        parts.append(
            f'<div class="msg user"><span class="who">You</span><p>{esc(turn.question)}</p></div>'
        )
    parts.append('<div class="msg bot"><span class="who">NCPI QA</span>')
    if turn.context and turn.context.note:  # a follow-up: what it was searched with
        parts.append(f'<p class="context-note">{esc(turn.context.note)}</p>')
    tier = "answer" if turn.error else turn.tier
    if tier == "closest":  # a quote the answerer does not assert: said before it, in words
        parts.append(
            f'<p class="tier-label" id="tier-{i}">Closest passage — not a confirmed answer</p>'
        )
    cls = "answer error" if turn.error else f"answer tier-{tier}"
    described = f' aria-describedby="tier-{i}"' if tier == "closest" else ""
    parts.append(f'<p class="{cls}"{described}>{_answer_html(i, turn, labels)}</p>')
    if turn.citations:
        parts.append(f'<ul class="chips" aria-label="Sources for answer {i + 1}">')
        for c in turn.citations:
            parts.append(
                f'<li><button type="button" class="chip" data-action="cite:{i}:{c.n}">'
                f"[{c.n}] {esc(labels[c.n])}</button></li>"
            )
        parts.append("</ul>")
    elif tier == "none":
        parts.append(_closest_list(i, turn))
    if turn.indexing:
        parts.append(
            f'<p class="note indexing">{esc(turn.indexing)} was still being indexed when '
            "this was answered, so it is not part of this answer: ask again once it is added.</p>"
        )
    if not turn.error:
        fb = turn.feedback
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


def render_chat(turns: list[Turn], pending: str | None = None) -> str:
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
        # not a live region: it is re-rendered whole; the status line announces each answer
        '<div id="chatlog" role="region" aria-label="Conversation">' + "".join(body) + "</div>"
    )


EXCERPT = 160  # characters of a closest passage shown in its button under the answer


def _closest_list(i: int, turn: Turn) -> str:
    """Under a declined answer: the closest passages found, each a button that opens it
    beside the chat (as a citation does), labelled as not an answer."""
    passages = turn.passages
    if not passages:
        return '<p class="note">No passage came close.</p>'
    items = []
    for k, p in enumerate(passages):
        words = " ".join(p.text.split())
        cut = words[:EXCERPT].rsplit(" ", 1)[0] + "…" if len(words) > EXCERPT else words
        excerpt = f'<span class="excerpt">“{esc(cut)}”</span>' if cut else ""
        items.append(
            # named by its visible text (axe: label-content-name-mismatch), described by
            # the list's note "Closest passages found (not an answer)"
            f'<li><button type="button" class="near" data-action="near:{i}:{k}" '
            f'aria-describedby="near-{i}">'
            f'<span class="near-label">{k + 1}. {esc(p.label)}</span>{excerpt}'
            "</button></li>"
        )
    return (
        f'<div class="closest-list"><p class="note" id="near-{i}">Closest passages found '
        f'(not an answer):</p><ol aria-labelledby="near-{i}">{"".join(items)}</ol></div>'
    )


# ---------------------------------------------------------------------------- side panel


def doc_text(documents, doc_id) -> str | None:
    doc = (documents or {}).get(doc_id)
    if doc is None:
        return None
    return doc if isinstance(doc, str) else getattr(doc, "text", None)


def _marked(text: str, start: int, end: int, span: tuple[int, int] | None = None) -> str:
    """``text`` with the quote [start:end] marked and, inside it, the reader's answer span."""
    inner = esc(text[start:end])
    if span is not None and start <= span[0] < span[1] <= end:
        a, b = span[0] - start, span[1] - start
        quote = text[start:end]
        inner = (
            f'{esc(quote[:a])}<strong class="answer-span">{esc(quote[a:b])}</strong>'
            f"{esc(quote[b:])}"
        )
    return f'{esc(text[:start])}<mark id="quote-mark">{inner}</mark>{esc(text[end:])}'


def _span_in(cite: TurnCitation, qs: int) -> tuple[int, int] | None:
    """The citation's answer span (document offsets) moved into the shown passage's offsets
    (the model keeps a span only inside the quote)."""
    if not cite.span:
        return None
    a, b = cite.span
    return a - cite.start + qs, b - cite.start + qs


WINDOW = 300  # context either side of a quote whose chunk is unknown


def passage_around(
    citation: TurnCitation, passages: list[TurnPassage], documents
) -> tuple[str, int, int, bool]:
    """(passage text, quote start, quote end, verified) for a citation.

    The chunk the quote came from, cut from the document's text so the offsets are exact;
    failing that a window around it; when the document no longer holds the quote at those
    offsets (it was re-indexed), the quote alone, not verified.
    """
    start, end, quote = citation.start, citation.end, citation.quote
    text = doc_text(documents, citation.doc_id)
    if text is not None and 0 <= start <= end <= len(text) and text[start:end] == quote:
        for p in passages:
            if (
                p.chunk_id == citation.chunk_id
                and p.doc_id == citation.doc_id
                and p.start <= start
                and end <= p.end <= len(text)
            ):
                return text[p.start : p.end], start - p.start, end - p.start, True
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        return text[lo:hi], start - lo, end - lo, True
    return quote, 0, len(quote), False


def render_citation(turns: list[Turn], i: int, n: int, documents, page_png=None) -> str:
    """Turn i's citation n: its label, the passage with the quote marked, the page as printed
    (``page_png``, a PDF's: see ``docview.page_figure``), details on demand."""
    if not (0 <= i < len(turns)):
        return render_panel_empty("That answer is no longer in this conversation.")
    turn = turns[i]
    cite = next((c for c in turn.citations if c.n == n), None)
    if cite is None:
        return render_panel_empty("That citation is not part of the answer.")
    labels = display_labels(turn.citations)
    text, qs, qe, ok = passage_around(cite, turn.passages, documents)
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
        f'<p class="for">Cited in the answer to: <q>{esc(turn.question)}</q></p>'
        f"{note}"
        f'<div class="passage" {SCROLLS}>'
        f"{_marked(text, qs, qe, _span_in(cite, qs) if ok else None)}</div>"
        f"{_figure(documents, cite, page_png)}"
        f'<p><button type="button" class="open-doc" '
        f'data-action="doc:{esc(cite.doc_id)}:{i}:{esc(n)}">'
        "Open the whole document at this quote</button> · "
        f'<a class="back" href="#turn-{i}">Back to answer {i + 1}</a></p>'
        "<details><summary>Details</summary>"
        f"{_confidence(turn)}"
        f'<p class="meta">Document id {esc(cite.doc_id)} · characters {esc(cite.start)}–'
        f"{esc(cite.end)} · sentence score {esc(cite.score)} · chunk "
        f"{esc(cite.chunk_id)}</p></details>"
        f"{_retrieved(turn)}</section>"
    )


def _confidence(turn: Turn) -> str:
    """The answerer's calibrated confidence (about how often answers this confident are
    right, on held-out SQuAD articles) and the threshold it answers at."""
    c, t = turn.best_score, turn.threshold
    if c is None or t is None:
        return ""
    return (
        f'<p class="meta">Confidence {c:.2f} (the answerer answers at {t:.2f} or more; '
        "calibrated on held-out SQuAD articles: about that share of such answers hold "
        "the answer)</p>"
    )


def _retrieved(turn: Turn) -> str:
    """The passages retrieved for the answer, labels first, scores behind a toggle."""
    passages = turn.passages
    if not passages:
        return ""
    items = "".join(
        f'<li>{esc(p.label)}<span class="meta"> · fused {esc(p.score)} · '
        f"cosine {esc(p.similarity)} · BM25 {esc(p.bm25)}</span></li>"
        for p in passages
    )
    summary = f"<summary>Retrieved passages ({len(passages)})</summary>"
    return f"<details>{summary}<ol>{items}</ol></details>"


def _figure(documents, item: TurnCitation | TurnPassage, page_png) -> str:
    """The page(s) a quote or passage is on, as printed, when there is an image of them."""
    if page_png is None:
        return ""
    doc = (documents or {}).get(item.doc_id)
    span = pages_of(doc, item.start, item.end) if doc is not None else None
    return page_figure(getattr(doc, "title", ""), page_png, span)


def render_closest(turns: list[Turn], i: int, k: int, documents, page_png=None) -> str:
    """Turn i's closest passage k (a declined answer's): the passage as the document holds
    it, plainly labelled as not an answer, with its page and the way to the whole document."""
    if not (0 <= i < len(turns)):
        return render_panel_empty("That answer is no longer in this conversation.")
    turn = turns[i]
    passages = turn.passages
    if not (0 <= k < len(passages)):
        return render_panel_empty("That passage is not listed under the answer.")
    p = passages[k]
    text = doc_text(documents, p.doc_id)
    start, end, saved = p.start, p.end, p.text
    ok = (
        text is not None
        and 0 <= start <= end <= len(text)
        and (not saved or text[start:end] == saved)
    )
    body = text[start:end] if ok else saved
    note = (
        ""
        if ok
        else '<p class="note">The document has changed since this answer; showing the '
        "passage as it was.</p>"
    )
    opener = (
        f'<p><button type="button" class="open-doc" '
        f'data-action="doc:{esc(p.doc_id)}:{i}:p{k}">'
        "Open the whole document at this passage</button> · "
        if ok
        else "<p>"
    )
    return (
        f'<section class="ncpi-panel closest-view" data-turn="{i}" data-k="{k}" '
        f'aria-label="Closest passage {k + 1}">'
        f"<h2>Closest passage {k + 1} of {len(passages)}: {esc(p.label)}</h2>"
        '<p class="tier-label">Not an answer: the documents don\'t answer the question '
        f"<q>{esc(turn.question)}</q></p>{note}"
        f'<div class="passage" {SCROLLS}>{esc(body)}</div>{_figure(documents, p, page_png)}'
        f'{opener}<a class="back" href="#turn-{i}">Back to answer {i + 1}</a></p>'
        "</section>"
    )
