"""The whole-document view: the text with the quote marked (opened scrolled to it), the
outline (the document's headings: for a PDF these follow its bookmarks, see ingest/pdf.py)
and a page jump; a PDF's page(s) as printed above it.

Headings and page starts are empty anchor elements inside the text (``#doc-h-K``,
``#doc-p-N``), so the text itself reads exactly as stored; the page script scrolls to them.
"""

from __future__ import annotations

import html
import re

MAX_OUTLINE = 400  # headings listed in the outline (a longer document lists its first 400)
# a contents page: its first line says so; its entries end in a page number followed by the
# next entry (a capital) or the page's end, the number not part of "Chapter 2 ..." itself
_CONTENTS = re.compile(r"\s*(table of )?contents\b", re.IGNORECASE)
_ENTRY_END = re.compile(
    r"(?<!chapter)(?<!part)(?<!section)(?<!annex)(?<!appendix)(?<!volume)"
    r"(?<=\S) (\d{1,4})(?=\s+[A-Z]|\s*$)",
    re.IGNORECASE,
)


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page_of(doc, offset: int) -> int | None:
    for start, end, number in getattr(doc, "pages", None) or []:
        if start <= offset < end:
            return number
    return None


def pages_of(doc, start: int, end: int) -> tuple[int, int] | None:
    """(first, last) page of the text [start:end], or None for a document without pages."""
    first = page_of(doc, start)
    if first is None:
        return None
    last = page_of(doc, max(start, end - 1))
    return first, last if last is not None and last >= first else first


def page_label(first: int, last: int | None = None) -> str:
    """ "p. 26", or "pp. 26–27" for a quote that runs over a page break."""
    return f"pp. {first}–{last}" if last is not None and last != first else f"p. {first}"


def contents_breaks(doc) -> list[int]:
    """Offsets at which a PDF's contents page ends an entry ("Introduction 3", "Chapter 1:
    Civil disobedience 9"): the extracted text runs the entries together on one line, so
    the view breaks the line there (markup only: the text itself is left as stored)."""
    text, out = doc.text, []
    for start, end, _ in getattr(doc, "pages", None) or []:
        page = text[start:end]
        if not _CONTENTS.match(page):
            continue
        ends = [start + m.end() for m in _ENTRY_END.finditer(page)]
        if len(ends) >= 3:
            out += ends
    return out


def _with_anchors(text: str, start, end, anchors: dict[int, list[str]]) -> str:
    """``text`` escaped, the quote [start:end] marked, anchor tags inserted at their offsets
    (an anchor at the quote's start goes before the mark, so the mark holds only the quote)."""
    quote = start is not None and end is not None and 0 <= start <= end <= len(text)
    points = set(anchors) | ({start, end} if quote else set())
    out, at = [], 0
    for p in sorted(q for q in points if 0 <= q <= len(text)):
        out.append(esc(text[at:p]))
        if quote and p == end and end != start:
            out.append("</mark>")
        out.extend(anchors.get(p, []))
        if quote and p == start:
            out.append('<mark id="quote-mark">' + ("</mark>" if end == start else ""))
        at = p
    out.append(esc(text[at:]))
    return "".join(out)


def _outline(doc, ids: list[tuple[int, str, object]]) -> str:
    if not ids:
        return ""
    items = []
    for start, anchor, h in ids:
        page = page_of(doc, start)
        where = f' <span class="meta">{esc(page_label(page))}</span>' if page else ""
        items.append(
            f'<li class="lvl-{min(max(int(h.level), 1), 4)}"><a href="#{anchor}" '
            f'data-jump="{anchor}">{esc(h.text)}</a>{where}</li>'
        )
    more = len(doc.headings) - len(ids)
    tail = f'<p class="meta">and {more} more headings</p>' if more > 0 else ""
    return (
        f'<nav class="outline" aria-label="Outline of {esc(doc.title)}"><details open>'
        f"<summary>Outline ({len(doc.headings)} headings)</summary><ol>{''.join(items)}</ol>"
        f"{tail}</details></nav>"
    )


def _back(turn: int | None) -> str:
    if turn is None:
        return '<a class="back" href="#question">Back to the question box</a>'
    return f'<a class="back" href="#turn-{turn}">Back to answer {turn + 1}</a>'


def _page_jump(numbers: list[int], current: int | None) -> str:
    if len(numbers) < 2:
        return ""
    return (
        '<form class="page-jump" data-page-jump>'
        f'<label for="doc-page">Go to page ({numbers[0]}–{numbers[-1]})</label> '
        f'<input id="doc-page" name="page" type="number" min="{numbers[0]}" '
        f'max="{numbers[-1]}" value="{current or numbers[0]}" inputmode="numeric"> '
        '<button type="submit">Go</button></form>'
    )


def _png_size(uri: str) -> str:
    """' width="W" height="H"' of a PNG data URI (from its header), so the page keeps the
    image's room before it is decoded and nothing below it moves; "" when unreadable."""
    import base64
    import struct

    try:
        head = base64.b64decode(uri.split(",", 1)[1][:44])
        w, h = struct.unpack(">II", head[16:24])
    except (IndexError, ValueError, struct.error):
        return ""
    return f' width="{w}" height="{h}"'


def page_figure(title: str, page_png, span: tuple[int, int] | None) -> str:
    """A PDF's page(s) as printed: ``page_png`` is (data URI, quote marked?, first page
    number); two pages stacked when the quote runs over a page break (``span``). An Enlarge
    button shows it at full size over the page (the page script; Escape closes it)."""
    if page_png is None:
        return ""
    uri, marked, number = page_png
    last = span[1] if span and span[0] == number else number
    label = "Pages" if last != number else "Page"
    shown = f"{number}–{last}" if last != number else f"{number}"
    alt = f"{label} {shown} of {title}" + (", the quote marked" if marked else "")
    return (
        f'<details class="page-image" open><summary>{label} {esc(shown)} as printed'
        f"{'' if marked else ' (the quote could not be located on the image)'}</summary>"
        '<button type="button" class="zoom" data-zoom aria-expanded="false">'
        "Enlarge the page</button>"
        f'<div class="page-scroll" tabindex="0" role="group" aria-label="{esc(alt)}">'
        f'<img src="{esc(uri)}"{_png_size(uri)} alt="{esc(alt)}" '
        f'data-page="{esc(number)}" data-pages="{esc(shown)}" '
        f'data-marked="{str(marked).lower()}"></div></details>'
    )


def render_document(
    doc, start: int | None = None, end: int | None = None, page_png=None, back: int | None = None
) -> str:
    """A whole document's extracted text; the quote [start:end] marked when given and valid.
    ``page_png`` is (data URI, quote marked?, first page number) of a PDF's page(s), shown
    first (two pages stacked when the quote runs over a page break). ``back``: the answer it
    was opened from, linked so one click brings the conversation back."""
    if doc is None:
        return render_panel_empty("That document is not in the index any more.")
    text = doc.text
    valid = start is not None and end is not None and 0 <= start <= end <= len(text)
    span = pages_of(doc, start, end) if valid else None
    intro = ""
    if valid:
        where = f" (quote on {page_label(*span)})" if span else ""
        intro = f'<p class="for">The highlighted text is the quote{esc(where)}.</p>'
    anchors: dict[int, list[str]] = {}
    heads = []
    for k, h in enumerate((getattr(doc, "headings", None) or [])[:MAX_OUTLINE]):
        if 0 <= h.start <= len(text):
            heads.append((h.start, f"doc-h-{k}", h))
            anchors.setdefault(h.start, []).append(
                f'<span class="anchor" id="doc-h-{k}" tabindex="-1"></span>'
            )
    numbers = []
    for p_start, _, number in getattr(doc, "pages", None) or []:
        if number not in numbers and 0 <= p_start <= len(text):
            numbers.append(number)
            anchors.setdefault(p_start, []).insert(
                0,
                f'<span class="page-start" id="doc-p-{esc(number)}" data-page="{esc(number)}" '
                'tabindex="-1"></span>',
            )
    for at in contents_breaks(doc):
        anchors.setdefault(at, []).append('<br class="toc-break">')
    figure = page_figure(doc.title, page_png, span)
    body = _with_anchors(text, start if valid else None, end if valid else None, anchors)
    return (
        f'<section class="ncpi-panel document-view" data-doc="{esc(doc.doc_id)}" '
        f'aria-label="Document">'
        f"<h2>{esc(doc.title)}</h2>"
        f'<p class="meta">{esc(doc.kind)} · {esc(doc.source)} · {_back(back)}</p>{intro}{figure}'
        f"{_outline(doc, heads)}{_page_jump(numbers, span[0] if span else None)}"
        f'<div class="passage doc-text" tabindex="0" role="region" aria-label="Document text">'
        f"{body}</div></section>"
    )


def render_panel_empty(message: str = "Open a citation [n] from an answer to see it here.") -> str:
    return f'<section class="ncpi-panel"><p class="empty">{esc(message)}</p></section>'
