"""A PDF page's lines as pypdf reads them, with position, size and weight, and the page
furniture among them: running headers, footers and page numbers, found from what repeats
at the page edges across pages (position, and text with the numbers masked), not from any
one document's wording."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

from ncpi_qa.ingest.text import normalize

_ROMAN = re.compile(r"\b[ivxlcdm]{1,6}\b", re.I)


@dataclass
class Line:
    text: str
    y: float | None  # baseline height from the page's bottom, None when unknown
    size: float  # font size in points
    bold: bool


def page_lines(page) -> list[Line]:
    """The page's text lines in pypdf's reading order, each with its height, size and weight."""
    frags: list[tuple[str, float | None, float, bool]] = []

    def visit(text, cm, tm, font, size):
        if not text:
            return
        try:
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
            size = float(size) * (scale or 1.0)
            name = str(font.get("/BaseFont", "")) if font else ""
        except Exception:  # an odd matrix or font: text without a position
            y, size, name = None, float(size or 0), ""
        frags.append((text, y, size, bool(re.search(r"bold|black|heavy", name, re.I))))

    raw = (page.extract_text(visitor_text=visit) or "").replace("\x00", "")
    if "".join(f[0] for f in frags).replace("\x00", "") != raw:  # not what pypdf read: no layout
        return [Line(t.strip(), None, 0.0, False) for t in raw.splitlines() if t.strip()]
    lines: list[Line] = []
    text, ys, sizes, weights = "", [], [], []
    for frag, y, size, bold in frags:
        pieces = frag.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for k, piece in enumerate(pieces):
            if k:  # a line ends here
                if text.strip():
                    n = sum(weights)
                    lines.append(Line(text.strip(), ys[0] if ys else None, max(sizes), n > 0))
                text, ys, sizes, weights = "", [], [], []
            if piece.strip():
                if y is not None and y != 0.0:
                    ys.append(y)
                sizes.append(size)
                weights.append(len(piece.strip()) if bold else -len(piece.strip()))
            text += piece.replace("\x00", "")
    if text.strip():
        lines.append(Line(text.strip(), ys[0] if ys else None, max(sizes), sum(weights) > 0))
    for ln in lines:
        ln.text = re.sub(r"[ \t\u00a0]+", " ", ln.text)
    return lines


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
