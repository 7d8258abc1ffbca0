"""The HTML loader: one pass of the standard library's event parser, no tree.

Text is collected block by block (headings, paragraphs, list items, table cells ...): a
top-level block's text is every string inside it, joined by spaces; text outside any block
is used only when a page has no blocks at all. Scripts, styles, navigation, forms, SVG and
templates are left out. Nothing is kept per tag but a stack of the open block tags, so a
million unclosed tags cost a million events, each one charged to the file's budget
(``limits.Budget``: elements, paragraphs, characters, time), never a tree in memory.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from ncpi_qa.ingest.blocks import Parsed, TextBuilder, clean_inline
from ncpi_qa.ingest.limits import Budget, active, check_markup

BLOCKS = frozenset("h1 h2 h3 h4 h5 h6 p li blockquote pre td th dt dd caption figcaption".split())
SKIP = frozenset("script style noscript template svg nav form".split())


class _Extractor(HTMLParser):
    def __init__(self, budget: Budget) -> None:
        super().__init__(convert_charrefs=True)
        self.budget = budget
        self.blocks: list[tuple[str, str]] = []  # (tag, text) of each top-level block
        self.loose: list[str] = []  # text outside blocks (used when there are no blocks)
        self.stack: list[str] = []  # open block tags inside the current top-level block
        self.counts: dict[str, int] = {}
        self.skip: dict[str, int] = {}
        self.skipping = 0
        self.pieces: list[str] = []
        self.title: list[str] | None = None
        self.title_done = False
        self.chars = 0
        self.top = "p"

    # -- events
    def handle_starttag(self, tag, attrs):
        self.budget.element()
        if tag in SKIP:
            self.skip[tag] = self.skip.get(tag, 0) + 1
            self.skipping += 1
            return
        if self.skipping:
            return
        if tag == "title" and not self.title_done:
            self.title = []
        elif tag in BLOCKS:
            if self.title is not None:
                self.title_done = True  # an unclosed <title> ends where the text starts
            if not self.stack:
                self.top = tag  # the tag that opened this top-level block
            self.stack.append(tag)
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_startendtag(self, tag, attrs):
        self.budget.element()

    def handle_endtag(self, tag):
        self.budget.element()
        if tag in SKIP:
            if self.skip.get(tag):
                self.skip[tag] -= 1
                self.skipping -= 1
            return
        if self.skipping:
            return
        if tag == "title" and self.title is not None:
            self.title_done = True
        elif tag in BLOCKS and self.counts.get(tag):
            while self.stack:  # close it and whatever is left open inside it
                name = self.stack.pop()
                self.counts[name] -= 1
                if name == tag:
                    break
            if not self.stack:
                self._flush()

    def handle_data(self, data):
        self.budget.element()
        if self.skipping:
            return
        if self.title is not None and not self.title_done:
            self.title.append(data)
            return
        self.chars += len(data)
        if self.chars > self.budget.limits.max_text_chars:
            self.budget.check_chars(self.chars)
        if self.stack:
            self.pieces.append(data)
        elif data.strip():
            self.loose.append(data)

    # -- blocks
    def _flush(self) -> None:
        if len(self.blocks) >= self.budget.limits.max_paragraphs:
            self.budget.text(0, len(self.blocks) + 1)  # raises: over max_paragraphs
        self.blocks.append((self.top, clean_inline(" ".join(self.pieces))))
        self.pieces = []

    def close(self):
        super().close()
        if self.stack:  # blocks left open at the end of the file
            self.stack.clear()
            self._flush()


def load_html(path: Path, data: bytes, decode) -> Parsed:
    budget = active()
    check_markup(data, budget)
    parser = _Extractor(budget)
    text = decode(data, path)
    for i in range(0, len(text), 1 << 16):  # fed in pieces so the time budget is checked
        parser.feed(text[i : i + (1 << 16)])
        budget.check_time()
    parser.close()
    b = TextBuilder()
    run: list[str] = []
    for tag, text in parser.blocks:
        if tag == "li":
            run.append(text)
            continue
        if run:
            b.items(run)
            run = []
        if tag[0] == "h" and tag[1:].isdigit():
            b.heading(text, int(tag[1:]))
        else:
            b.paragraph(text)
    if run:
        b.items(run)
    if not parser.blocks:
        for para in re.split(r"\n\s*\n", "\n".join(parser.loose)):
            b.paragraph(clean_inline(para))
    title = clean_inline("".join(parser.title or []))[:300]
    if not title:
        title = next((h.text for h in b.headings), path.stem)
    return Parsed(b.text(), title, b.headings)
