"""Pieces shared by the document model and the format loaders: the error a loader raises,
headings, and the ``TextBuilder`` that joins a file's blocks into one text with offsets."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["ACTIVE_BUDGET", "Heading", "Parsed", "TextBuilder", "clean_inline"]

# The content budget of the file being parsed (ingest/limits.py); TextBuilder charges it.
ACTIVE_BUDGET: ContextVar = ContextVar("ncpi_qa_parse_budget", default=None)


@dataclass
class Heading:
    start: int
    end: int
    level: int
    text: str


@dataclass
class Parsed:
    """What a loader makes of one file: its text, title, heading offsets, page spans
    ``(page label, start, end)`` for paginated formats, and a note for the user (e.g. what
    was left out)."""

    text: str
    title: str
    headings: list[Heading] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    note: str = ""


def clean_inline(text: str) -> str:
    """One line of text: newlines, tabs and no-break spaces collapsed to single spaces."""
    return re.sub(r"[ \t\u00a0]+", " ", text.replace("\n", " ")).strip()


class TextBuilder:
    """Joins blocks with blank lines, remembering where headings and pages start and end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[Heading] = []
        self.pages: list[tuple[int, int, int]] = []
        self._page: tuple[int, int] | None = None

    def _append(self, text: str) -> tuple[int, int]:
        budget = ACTIVE_BUDGET.get()
        if budget is not None:  # a file over its content limits stops here (LimitError)
            budget.text(len(text), 1 + text.count("\n• "))
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def heading(self, text: str, level: int) -> None:
        text = clean_inline(text)
        if text:
            s, e = self._append(text)
            self.headings.append(Heading(s, e, level, text))

    def mark(self, text: str, level: int) -> None:
        """A heading known from metadata (a PDF bookmark): starts a section, adds no text."""
        at = self.length + (2 if self.parts else 0)
        self.headings.append(Heading(at, at, level, clean_inline(text)))

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if text:
            self._append(text)

    def items(self, items: list[str]) -> None:
        lines = [f"• {clean_inline(i)}" for i in items if clean_inline(i)]
        if lines:
            self._append("\n".join(lines))

    def page(self, number: int) -> None:
        self.end_page()
        self._page = (self.length + (2 if self.parts else 0), number)

    def end_page(self) -> None:
        if self._page is not None:
            start, number = self._page
            if self.length > start:
                self.pages.append((start, self.length, number))
            self._page = None

    def text(self) -> str:
        self.end_page()
        return "".join(self.parts)
