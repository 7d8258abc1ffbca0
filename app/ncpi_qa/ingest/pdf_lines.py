"""A PDF page's lines as pypdf reads them, with position, size and weight, and the page
furniture among them: running headers, footers and page numbers, found from what repeats
at the page edges across pages (position, and text with the numbers masked), not from any
one document's wording. And the document's bookmarks, by the page they start on."""

from __future__ import annotations

import logging
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from ncpi_qa.ingest.text import normalize

log = logging.getLogger(__name__)

_ROMAN = re.compile(r"\b[ivxlcdm]{1,6}\b", re.I)


@dataclass
class Line:
    text: str
    y: float | None  # baseline height from the page's bottom, None when unknown
    size: float  # font size in points
    bold: bool
    x: float | None = None  # where the line starts from the page's left, None when unknown


def page_lines(page) -> list[Line]:
    """The page's text lines in pypdf's reading order, each with its height, size and weight;
    pieces drawn out of order on one baseline put back left to right, a bullet drawn apart
    from its item put before it, and no control characters (``tidy_lines``)."""
    frags: list[tuple[str, float | None, float | None, float, bool]] = []

    def visit(text, cm, tm, font, size):
        if not text:
            return
        try:
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            size = float(size) * (scale or 1.0)
            name = str(font.get("/BaseFont", "")) if font else ""
        except Exception:  # an odd matrix or font: text without a position
            x, y, size, name = None, None, float(size or 0), ""
        frags.append((text, x, y, size, bool(re.search(r"bold|black|heavy", name, re.I))))

    raw = (page.extract_text(visitor_text=visit) or "").replace("\x00", "")
    if "".join(f[0] for f in frags).replace("\x00", "") != raw:  # not what pypdf read: no layout
        return tidy_lines([Line(t.strip(), None, 0.0, False) for t in raw.splitlines()])
    lines: list[Line] = []
    parts: list[tuple[str, float | None, float | None]] = []  # (text, x, y) of this line
    sizes, weights = [], []
    for frag, x, y, size, bold in frags:
        pieces = frag.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for k, piece in enumerate(pieces):
            if k:  # a line ends here
                if "".join(t for t, _, _ in parts).strip():
                    lines.append(_line(parts, sizes, weights))
                parts, sizes, weights = [], [], []
            piece = piece.replace("\x00", "")
            if piece.strip():
                at = (x, y) if y is not None and y != 0.0 else (None, None)
                parts.append((piece, *at))
                sizes.append(size)
                weights.append(len(piece.strip()) if bold else -len(piece.strip()))
            elif piece:
                parts.append((piece, None, None))
    if "".join(t for t, _, _ in parts).strip():
        lines.append(_line(parts, sizes, weights))
    return tidy_lines(lines)


def _line(parts: list[tuple[str, float | None, float | None]], sizes, weights) -> Line:
    """One line from its pieces: in drawing order, or left to right when a piece was drawn
    left of the one before it on the same baseline (a contents entry's dot leader and page
    number drawn before its title: pypdf glues them as "...... 4Title")."""
    placed = [(t, x, y) for t, x, y in parts if x is not None and y is not None]
    text = "".join(t for t, _, _ in parts)
    ys = [y for _, _, y in placed]
    back = any(
        b[1] < a[1] - 1.0 and abs(b[2] - a[2]) <= 0.5
        for a, b in zip(placed, placed[1:], strict=False)
    )
    if back and len(placed) == len([p for p in parts if p[0].strip()]) and max(ys) - min(ys) <= 0.5:
        text = ""
        for t, _, _ in sorted(placed, key=lambda p: p[1]):
            if text and not text[-1].isspace() and not t[:1].isspace():
                text += " "
            text += t
    x = min((x for _, x, _ in placed), default=None)
    return Line(text.strip(), ys[0] if ys else None, max(sizes), sum(weights) > 0, x)


# C0 controls but tab and line breaks, DEL and the C1 controls: never text. A font's unused
# code comes out of pypdf as one (reportlab's bullet is WinAnsi code 127, which PDF viewers
# draw as a bullet; pypdf gives U+007F).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A glyph pypdf could not name, standing alone at a line's start: a bullet (a control
# character, above, or a symbol font's private-use code: Word's Symbol/Wingdings bullets).
_LEAD_MARK = re.compile(r"^[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ue000-\uf8ff](?=\s|$)")
# A list item's marker drawn on its own, apart from the item's text: a bullet, a dash, a
# number or letter ("1.", "b)", "(iv)").
_ONLY_MARK = re.compile(
    r"[•\u2023\u2043\u2219\u25aa\u25ab\u25a0\u25a1\u25cf\u25e6\u25cb\u27a2\-\u2013*]"
    r"|\(?(?:[0-9]{1,2}|[a-z]|[ivx]{1,4})[.)]"
)


def tidy_lines(lines: list[Line]) -> list[Line]:
    """Lines as a person reads them:

    - a bullet glyph at a line's start is "•" (a control character or a symbol font's
      private-use code there is a bullet pypdf could not name); any other control character
      is dropped;
    - a line drawn before a line that starts left of it on the same baseline (within the
      next two lines) follows it, joined with a space: a contents entry whose dot leader and
      page number were drawn before its title reads "Title . . . 4";
    - a line that is only a list marker (a bullet, a dash, "1.", "b)") joins the text
      beside it (its baseline within half a line, to its right), so the item is "• text"
      on one line.
    """
    out: list[Line] = []
    for ln in lines:
        text = _LEAD_MARK.sub("•", ln.text.strip())
        text = re.sub(r"[ \t\u00a0]+", " ", _CONTROL.sub("", text)).strip()
        if text:
            out.append(Line(text, ln.y, ln.size, ln.bold, ln.x))
    i = 0
    while i < len(out):
        ln = out[i]
        j = next(
            (
                j
                for j in range(i + 1, min(i + 3, len(out)))
                if ln.y is not None and out[j].y is not None and abs(out[j].y - ln.y) <= 0.5
            ),
            None,
        )
        if j is not None and ln.x is not None and out[j].x is not None and out[j].x < ln.x:
            right = out.pop(i)
            left = out[j - 1]
            out[j - 1] = Line(
                f"{left.text} {right.text}", left.y, max(left.size, right.size), left.bold, left.x
            )
            continue  # out[i] is a new line now
        i += 1
    i = 0
    while i < len(out) - 1:
        ln, nxt = out[i], out[i + 1]
        if _ONLY_MARK.fullmatch(ln.text) and _beside(ln, nxt):
            out[i : i + 2] = [Line(f"{ln.text} {nxt.text}", nxt.y, nxt.size, nxt.bold, ln.x)]
        i += 1
    return out


def _beside(mark: Line, text: Line) -> bool:
    """The text that a lone list marker stands before: its baseline within half a line of
    the mark's and it starts to the mark's right (positions unknown: the next line)."""
    if mark.y is None or text.y is None:
        return True
    if abs(mark.y - text.y) > 0.5 * max(text.size, mark.size, 1.0):
        return False
    return mark.x is None or text.x is None or text.x > mark.x


def _mask(text: str) -> str:
    """A line's text with its numbers masked: what stays the same from page to page."""
    t = re.sub(r"\d+", "#", normalize(text))
    return _ROMAN.sub("#", t) if len(t.split()) <= 4 else t


def _may_be_furniture(line: Line, body_size: float) -> bool:
    words = line.text.split()
    if len(line.text) > 160 or (len(words) >= 6 and line.text.rstrip()[-1:] in ".!?"):
        return False  # a sentence, not a running head
    return not (body_size and line.size > body_size * 1.15)  # a heading, not furniture


_SEPARATOR = re.compile(r"\s[|\u2013\u2014\-:\u00b7\u2022/]\s")


def _affixes(masked: str) -> list[str]:
    """The fixed part of a running head whose other part varies (a chapter's name): the
    words before its first separator ("title |", "title -") or after its last one."""
    seps = list(_SEPARATOR.finditer(masked))
    if not seps:
        return []
    head, tail = masked[: seps[0].end()], masked[seps[-1].start() :]
    return [f"<{head}" for _ in [0] if len(head.split()) <= 7] + [f">{tail}"] * (
        len(tail.split()) <= 7
    )


def furniture(pages: list[list[Line]], body_size: float = 0.0) -> list[set[int]]:
    """For each page, the indexes of its header, footer and page-number lines: a line at a
    page edge (two top-most, two bottom-most) whose masked text recurs at that edge, at the
    same height, on at least 2 pages (3 once the document has 6 pages or more); or, not bold
    nor larger than the body, whose part before or after a separator (" | ", " - ") does."""
    n = len(pages)
    found: list[set[int]] = [set() for _ in pages]
    if n < 2:
        return found
    need = 2 if n < 6 else 3
    seen: dict[tuple[str, str], list[tuple[int, int, float | None]]] = defaultdict(list)
    for p, lines in enumerate(pages):
        order = list(range(len(lines)))
        if all(ln.y is not None for ln in lines):
            order.sort(key=lambda i: -lines[i].y)
        edges = {"top": order[:2], "bottom": order[-2:]}
        for edge, idx in edges.items():
            for i in idx:
                ln = lines[i]
                if not _may_be_furniture(ln, body_size):
                    continue
                masked = _mask(ln.text)
                keys = [masked]
                if not ln.bold and not (body_size and ln.size > body_size + 0.5):
                    keys += _affixes(masked)
                for key in keys:
                    seen[(edge, key)].append((p, i, ln.y))
    for occ in seen.values():
        if len({p for p, _, _ in occ}) < need:
            continue
        ys = [y for _, _, y in occ if y is not None]
        if len(ys) == len(occ):
            mid = statistics.median(ys)
            occ = [o for o in occ if abs(o[2] - mid) <= 4.0]
            if len({p for p, _, _ in occ}) < need:
                continue
        for p, i, _ in occ:
            found[p].add(i)
    return found


def body_size(pages: list[list[Line]]) -> float:
    sizes = Counter()
    for lines in pages:
        for ln in lines:
            sizes[round(ln.size, 1)] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def line_pitch(pages: list[list[Line]], body: float) -> float:
    """The usual distance between two wrapped lines of body text."""
    gaps = []
    for lines in pages:
        for a, b in zip(lines, lines[1:], strict=False):
            if (
                a.y is not None
                and b.y is not None
                and abs(a.size - body) < 0.5 > abs(b.size - body)
            ):
                if 0 < a.y - b.y < body * 3:
                    gaps.append(a.y - b.y)
    return statistics.median(gaps) if gaps else body * 1.2


def pdf_outline(reader) -> dict[int, list[tuple[str, int]]]:
    """Bookmarks by the page they start on: {page index: [(title, level)]}."""
    found: dict[int, list[tuple[str, int]]] = {}

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                found.setdefault(reader.get_destination_page_number(item), []).append(
                    (str(item.title), level)
                )
            except Exception as e:  # one odd bookmark: the others still count
                log.debug("skipped a bookmark: %s: %s", type(e).__name__, e)
                continue

    try:
        walk(reader.outline, 1)
    except Exception as e:  # an unreadable outline: headings come from the layout alone
        log.info("PDF outline not read (%s: %s); headings from the layout", type(e).__name__, e)
        return {}
    return found
