"""The PDF loader (pypdf): the text a person reads, by page, with bookmarks and headings.

Each page's lines come with their position and font (pypdf's text visitor, ``pdf_lines``).
Then:

- **Page furniture** (running headers, footers, page numbers) is found from what repeats
  (``pdf_lines.furniture``):
  a line among the two top-most or two bottom-most of its page whose text, digits and roman
  numerals masked, recurs at the same height on several pages ("Title | OFFICIAL",
  "Page 12", "12", a header on even pages only). It is left out of the text altogether, so
  no sentence, quote or document view holds it; offsets and page numbers are of the text
  that remains.
- **Lines become paragraphs**: wrapped lines are joined with a space (no hard line breaks
  in a quote), a hyphen at a line end is joined up when it breaks a word (``text.dehyphenate``
  decides from the document's own words; a compound like "child-centred" keeps it), and a
  paragraph that runs on to the next page is one paragraph (the two pages' spans meet
  inside it).
- **Headings** (bookmarked, larger or bold short lines) are headings, never sentences; a
  heading wrapped over several lines is one heading, whatever the case its next line starts
  with (``_wraps``: the page's bookmark titles, else the lines' size and weight);
  **contents pages** are kept as lines the chunker does not index.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.blocks import Parsed, TextBuilder
from ncpi_qa.ingest.pdf_lines import (
    Line,
    body_size,
    furniture,
    line_pitch,
    page_lines,
    pdf_outline,
)
from ncpi_qa.ingest.text import dehyphenate, is_toc_line, normalize

_BULLET_LINE = re.compile(
    r"[ \t]*(?:[•\u2022\u25aa\u25cf\u25e6\u2013\-\*·]|\(?[0-9]{1,2}[.)]|\(?[a-z][.)])\s+\S"
)
_ENDS_SENTENCE = re.compile(r"[.!?…:][\"'\u201d\u2019)\]]*$")
_ENDS_STOP = re.compile(r"[.!?…][\"'\u201d\u2019)\]]*$")
_HYPHEN_END = re.compile(r"([A-Za-zÀ-ÿ]+)[-\u00ad\u2010]$")
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+(?:[-'][A-Za-zÀ-ÿ]+)*")


def load_pdf(path: Path, data: bytes) -> Parsed:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LoadError("encrypted PDF (needs a password); save an unencrypted copy")
            except LoadError:
                raise
            except Exception as e:
                raise LoadError(f"encrypted PDF that cannot be opened ({e})") from e
        n_pages = len(reader.pages)
        outline = pdf_outline(reader)
        pages = [page_lines(page) for page in reader.pages]
        b = build_text(pages, outline)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, Exception) as e:
        raise LoadError(f"corrupt or unreadable PDF ({type(e).__name__}: {e})") from e
    text = b.text()
    if not text.strip() or not b.pages:
        raise LoadError(f"no extractable text in {n_pages} page(s) (empty or scanned PDF)")
    title = meta_title.strip() or next((h.text for h in b.headings), path.stem)
    return Parsed(text, title, b.headings, b.pages)


@dataclass
class Block:
    kind: str  # "para", "items", "heading", "toc"
    lines: list[Line]
    level: int = 0


def _is_heading(ln: Line, body: float, titles: set[str]) -> bool:
    t = ln.text
    if normalize(t) in titles:
        return True
    if len(t) > 150 or not re.search(r"[A-Za-zÀ-ÿ]", t) or t[:1].islower():
        return False
    if body and ln.size >= body * 1.15:
        return True
    return ln.bold and len(t) <= 100 and t[-1:] not in ".,;:"


def page_blocks(lines: list[Line], body: float, pitch: float, titles: set[str], width: float):
    """One page's lines (furniture already out) grouped into blocks."""
    if sum(is_toc_line(ln.text) for ln in lines) >= 3:
        return _contents_blocks(lines, body, titles)
    blocks: list[Block] = []
    prev: Line | None = None
    for ln in lines:
        head = _is_heading(ln, body, titles)
        gap = (
            prev is not None
            and prev.y is not None
            and ln.y is not None
            and (prev.y - ln.y > pitch * 1.4 or prev.y - ln.y < -pitch * 0.5)
        )
        last = blocks[-1] if blocks else None
        if last and last.kind == "heading" and _wraps(last.lines, ln, body, pitch, titles):
            last.lines.append(ln)  # a heading wrapped over two lines, whatever its case
            prev = ln
            continue
        if head:
            if (
                last
                and last.kind == "heading"
                and not gap
                and abs(last.lines[-1].size - ln.size) < 0.5
            ):
                if (
                    normalize(ln.text) not in titles
                    and normalize(last.lines[-1].text) not in titles
                ):
                    last.lines.append(ln)  # a heading wrapped over two lines
                    prev = ln
                    continue
            blocks.append(Block("heading", [ln]))
        elif _BULLET_LINE.match(ln.text):
            if last and last.kind == "items" and not gap:
                last.lines.append(ln)
            else:
                blocks.append(Block("items", [ln]))
        elif (
            last
            and last.kind in ("para", "items")
            and not gap
            and abs(last.lines[-1].size - ln.size) < max(0.5, body * 0.1)
            and not (
                _ENDS_SENTENCE.search(last.lines[-1].text)
                and width
                and _not_full(last.lines[-1].text, ln.text, width)
            )
        ):
            last.lines.append(ln)  # a wrapped line (an item's own wrapped line included)
        else:
            blocks.append(Block("para", [ln]))
        prev = ln
    return blocks


def _contents_blocks(lines: list[Line], body: float, titles: set[str]) -> list[Block]:
    """A contents page: its heading, then its lines kept as lines (the chunker skips them)."""
    out, toc = [], []
    for ln in lines:
        if _is_heading(ln, body, titles) and not is_toc_line(ln.text) and not toc:
            out.append(Block("heading", [ln]))
        else:
            toc.append(ln)
    return out + ([Block("toc", toc)] if toc else [])


def _wraps(heading: list[Line], ln: Line, body: float, pitch: float, titles: set[str]) -> bool:
    """Does ``ln`` carry on the heading whose lines so far are ``heading``? Yes when a
    bookmark of the page reads as those lines and this one (and more of it may follow);
    else when it is set like the heading's last line (same size and weight, at most a line
    of its own size below it) and that line does not end the heading: it is no bookmark's
    whole title, and it ends without a stop; a body-sized bold line must also be short."""
    last = heading[-1]
    if last.y is not None and ln.y is not None:
        drop = last.y - ln.y
        if not 0 < drop <= max(pitch * 1.4, ln.size * 1.6):
            return False
    if len(ln.text) > 150 or not re.search(r"[A-Za-zÀ-ÿ]", ln.text):
        return False
    so_far = normalize(" ".join(x.text for x in heading))
    longer = normalize(f"{so_far} {ln.text}")
    if any(t.startswith(longer) and (len(t) == len(longer) or t[len(longer)] == " ")
           for t in titles):  # fmt: skip
        return so_far not in titles
    if so_far in titles or normalize(ln.text) in titles or _ENDS_STOP.search(last.text):
        return False
    if abs(last.size - ln.size) >= 0.5 or last.bold != ln.bold:
        return False
    if body and ln.size >= body * 1.15:
        return True
    return ln.bold and len(ln.text) <= 100 and ln.text[-1:] not in ".,;:"


def _not_full(line: str, nxt: str, width: float) -> bool:
    """The line stops short: the next line's first word would have fitted on it, so the
    break is a paragraph's end, not a wrap."""
    word = nxt.split()[0] if nxt.split() else ""
    return len(line) + 1 + len(word) < width * 0.9


def _join(lines: list[str], vocab: Counter, compounds: set[str]) -> str:
    out = lines[0]
    for nxt in lines[1:]:
        out = _join_two(out, nxt, vocab, compounds)
    return out


def _join_two(left: str, right: str, vocab: Counter, compounds: set[str]) -> str:
    m = _HYPHEN_END.search(left)
    word = re.match(r"[A-Za-zÀ-ÿ]+", right)
    if m and word:
        if left.endswith("\u00ad"):  # a soft hyphen: always a broken word
            return left[:-1] + right
        keep = not dehyphenate(m.group(1), word.group(0), vocab, compounds)
        return (left if keep else left[:-1]) + right
    return f"{left} {right}"


def _vocab(pages: list[list[Line]]) -> tuple[Counter, set[str]]:
    """The document's words (lower case) and its hyphenated compounds written within a line;
    a word broken at a line's end counts as neither (nor does the next line's first word)."""
    words, compounds = Counter(), set()
    broken = False
    for ln in (ln for lines in pages for ln in lines):
        text = ln.text
        if broken:
            text = re.sub(r"^[A-Za-zÀ-ÿ]+", "", text)
        broken = bool(_HYPHEN_END.search(text))
        for w in _WORD.findall(_HYPHEN_END.sub("", text)):
            w = w.lower()
            if "-" in w:
                compounds.add(w)
                words.update(w.split("-"))
            else:
                words[w] += 1
    return words, compounds


class _Builder(TextBuilder):
    """TextBuilder whose paragraph may run on from the previous page (joined with a space,
    or nothing after a broken word) and whose page spans start at their own first text."""

    def __init__(self) -> None:
        super().__init__()
        self._open: tuple[int | None, int] | None = None  # (page start offset, number)

    def _append(self, text: str) -> tuple[int, int]:
        start, end = super()._append(text)
        if self._open is not None and self._open[0] is None:
            self._open = (start, self._open[1])
        return start, end

    def add(self, text: str, sep: str | None = None) -> tuple[int, int]:
        """Append a block; ``sep`` joins it to the previous one instead of a blank line."""
        start, end = self._append(text)
        if sep is not None and len(self.parts) > 1:
            self.parts[-2] = sep
            shift = 2 - len(sep)
            self.length -= shift
            start, end = start - shift, end - shift
            if self._open is not None and self._open[0] == start + shift:
                self._open = (start, self._open[1])
        return start, end

    def page(self, number: int) -> None:
        self.end_page()
        self._open = (None, number)

    def end_page(self) -> None:
        if self._open is not None and self._open[0] is not None and self.length > self._open[0]:
            self.pages.append((self._open[0], self.length, self._open[1]))
        self._open = None


def build_text(pages: list[list[Line]], outline: dict[int, list[tuple[str, int]]]) -> _Builder:
    """The document's text from its pages' lines and bookmarks (see the module's docstring)."""
    body = body_size(pages)
    gone = furniture(pages, body)
    pages = [
        [ln for i, ln in enumerate(lines) if i not in gone[p]] for p, lines in enumerate(pages)
    ]
    pitch = line_pitch(pages, body)
    lengths = [len(ln.text) for lines in pages for ln in lines if abs(ln.size - body) < 0.5]
    # A full line of body text, in characters: most wrapped lines are near full.
    width = statistics.quantiles(lengths, n=10)[8] if len(lengths) >= 10 else max(lengths or [0])
    vocab, compounds = _vocab(pages)
    levels = _heading_levels(pages, outline, body)
    b = _Builder()
    carry: Block | None = None  # the previous page's last paragraph, if it may run on
    for p, lines in enumerate(pages):
        b.page(p + 1)
        marks = outline.get(p, [])
        blocks = page_blocks(lines, body, pitch, {normalize(t) for t, _ in marks}, width)
        heads = [" ".join(ln.text for ln in blk.lines) for blk in blocks if blk.kind == "heading"]
        level_of = {h: lvl for h in heads for t, lvl in marks if _same_title(t, h)}
        pending = [(t, lvl) for t, lvl in marks if not any(_same_title(t, h) for h in heads)]
        for k, blk in enumerate(blocks):
            if k == 0 and carry is not None and blk.kind == "para" and _runs_on(carry, blk):
                _run_on(b, carry.lines[-1].text, blk, vocab, compounds)
                carry = blk
                continue
            for t, lvl in pending:  # bookmarks with no heading line: at the page's start
                b.mark(t, lvl)
            pending = []
            if blk.kind == "heading":
                text = " ".join(ln.text for ln in blk.lines)
                b.heading(text, level_of.get(text) or levels.get(round(blk.lines[0].size, 1), 1))
            elif blk.kind == "items":
                b.add("\n".join(_items(blk.lines, vocab, compounds)))
            elif blk.kind == "toc":
                b.add("\n".join(ln.text for ln in blk.lines))
            else:
                b.add(_join([ln.text for ln in blk.lines], vocab, compounds))
            carry = blk if blk.kind == "para" else None
        for t, lvl in pending:
            b.mark(t, lvl)
        if not blocks:
            carry = None
        b.end_page()
    b.text()
    return b


def _same_title(bookmark: str, heading: str) -> bool:
    """A bookmark names this heading line ("Packet switching" / "Chapter 5: Packet switching")."""
    a, h = normalize(bookmark), normalize(heading)
    return a == h or (len(a) >= 4 and (h.endswith(a) or h.startswith(a) or a.endswith(h)))


def _run_on(b: _Builder, last: str, blk: Block, vocab: Counter, compounds: set[str]) -> None:
    """Continue the previous page's paragraph with this page's first one."""
    first = blk.lines[0].text
    rest = _join([ln.text for ln in blk.lines], vocab, compounds)
    joined = _join_two(last, first, vocab, compounds)
    if joined == f"{last} {first}":
        b.add(rest, " ")
        return
    if not joined.startswith(last):  # a word broken across the page break: its hyphen goes
        b.parts[-1] = b.parts[-1][:-1]
        b.length -= 1
    b.add(rest, "")


def _runs_on(prev: Block, nxt: Block) -> bool:
    """Does the previous page's last paragraph go on in this page's first one? Yes when its
    last sentence is unfinished (a paragraph cut at a sentence's end stays two: both read
    whole, and a full last line says nothing, as a paragraph may end at the page's end)."""
    last, first = prev.lines[-1].text, nxt.lines[0].text
    if abs(prev.lines[-1].size - nxt.lines[0].size) > 0.5:
        return False
    return not _ENDS_SENTENCE.search(last) or first[:1].islower()


def _items(lines: list[Line], vocab: Counter, compounds: set[str]) -> list[str]:
    items: list[list[str]] = []
    for ln in lines:
        if _BULLET_LINE.match(ln.text) or not items:
            items.append([ln.text])
        else:
            items[-1].append(ln.text)
    return [_join(i, vocab, compounds) for i in items]


def _heading_levels(pages, outline, body) -> dict[float, int]:
    """Heading level by font size; sizes within a tenth of each other are one level. A level
    with bookmarked headings takes their bookmarks' level, the rest rank below the nearest
    larger one (the largest is level 1)."""
    titles = {normalize(t): lvl for marks in outline.values() for t, lvl in marks}
    sizes: dict[float, Counter] = defaultdict(Counter)
    for lines in pages:
        for ln in lines:
            if _is_heading(ln, body, set(titles)):
                lvl = next((v for t, v in titles.items() if _same_title(t, ln.text)), 0)
                sizes[round(ln.size, 1)][lvl] += 1
    groups: list[list[float]] = []
    for size in sorted(sizes, reverse=True):
        if groups and size >= groups[-1][0] * 0.9:
            groups[-1].append(size)
        else:
            groups.append([size])
    levels: dict[float, int] = {}
    current = 0
    for group in groups:
        known = sum((sizes[s] for s in group), Counter())
        known = [lvl for lvl, _ in known.most_common() if lvl]
        current = known[0] if known else current + 1
        levels.update(dict.fromkeys(group, current))
    return levels
