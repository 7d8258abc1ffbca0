"""What one file may unpack to, and the budget that enforces it while it is parsed.

Bytes on disk say little about the cost of a file: a 40 KB DOCX can hold 30,000 paragraphs,
4 MB of HTML can be a million unclosed tags. ``Limits`` (from settings) bounds what a file
yields; a ``Budget`` is active (a context variable) while ``parse`` reads one file, and the
loaders and ``TextBuilder`` charge it as they go, so a file over a limit stops at once with a
``LimitError`` that names the limit and the setting that raises it.

``sniff`` names what a file's first bytes say it is, so a renamed program or image is
refused in plain words before any parser sees it.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ncpi_qa.errors import LimitError, LoadError
from ncpi_qa.ingest.blocks import ACTIVE_BUDGET

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_mb: float = 50.0
    max_unpacked_mb: float = 100.0
    max_elements: int = 1_000_000
    max_paragraphs: int = 10_000
    max_text_chars: int = 5_000_000
    parse_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(**{f: getattr(settings, f) for f in cls.__dataclass_fields__})


def over(what: str, limit: str, setting: str) -> LimitError:
    return LimitError(
        f"{what}, over the {limit} limit (raise NCPI_QA_{setting.upper()} to index it)"
    )


def size_refusal(size: int, max_file_mb: float) -> str | None:
    """The reason a file of ``size`` bytes is refused, or None when it is within the limit."""
    if size <= max_file_mb * MB:
        return None
    return (
        f"file is {size / MB:.1f} MB, over the {max_file_mb:g} MB limit "
        "(raise NCPI_QA_MAX_FILE_MB to index it)"
    )


class Budget:
    """Counts what one file has yielded so far against ``Limits``; raises ``LimitError``."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.parse_seconds
        self.elements = 0
        self.paragraphs = 0
        self.chars = 0
        self.unpacked = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise over(
                f"reading it took more than {self.limits.parse_seconds:g} s",
                f"{self.limits.parse_seconds:g} s",
                "parse_seconds",
            )

    def element(self, n: int = 1) -> None:
        self.elements += n
        if self.elements > self.limits.max_elements:
            raise over(
                f"it holds more than {self.limits.max_elements:,} XML/HTML elements",
                f"{self.limits.max_elements:,}-element",
                "max_elements",
            )
        if self.elements & 1023 == 0:
            self.check_time()

    def text(self, chars: int, paragraphs: int = 1) -> None:
        self.chars += chars
        self.paragraphs += paragraphs
        if self.paragraphs > self.limits.max_paragraphs:
            raise over(
                f"it holds more than {self.limits.max_paragraphs:,} paragraphs",
                f"{self.limits.max_paragraphs:,}-paragraph",
                "max_paragraphs",
            )
        self.check_chars()
        self.check_time()

    def check_chars(self, chars: int | None = None) -> None:
        n = self.chars if chars is None else chars
        if n > self.limits.max_text_chars:
            raise over(
                f"it holds more than {self.limits.max_text_chars:,} characters of text",
                f"{self.limits.max_text_chars:,}-character",
                "max_text_chars",
            )

    def unpack(self, n: int, part: str) -> None:
        self.unpacked += n
        if self.unpacked > self.limits.max_unpacked_mb * MB:
            raise over(
                f"its {part} unpacks to more than {self.limits.max_unpacked_mb:g} MB",
                f"{self.limits.max_unpacked_mb:g} MB",
                "max_unpacked_mb",
            )
        self.check_time()


_TAG = re.compile(rb"<[A-Za-z/!?]")


def check_markup(data: bytes, budget: Budget) -> None:
    """Refuse at once markup with more tags than ``max_elements`` (counted on the raw bytes,
    before any parser runs: a tag bomb costs one scan, not a parse)."""
    n = len(_TAG.findall(data))
    if n > budget.limits.max_elements:
        raise over(
            f"it holds {n:,} HTML tags, more than {budget.limits.max_elements:,}",
            f"{budget.limits.max_elements:,}-element",
            "max_elements",
        )


def active() -> Budget:
    """The budget of the file being parsed (an unlimited-time default outside ``parse``)."""
    budget = ACTIVE_BUDGET.get()
    return budget if budget is not None else Budget(Limits())


@contextmanager
def budget_for(limits: Limits):
    token = ACTIVE_BUDGET.set(Budget(limits))
    try:
        yield ACTIVE_BUDGET.get()
    finally:
        ACTIVE_BUDGET.reset(token)


_MAGIC = [
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc/.xls/.ppt)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"{\\rtf", "an RTF document"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
]


def sniff(data: bytes) -> str:
    """What the first bytes say the file is: 'a PDF', 'a Windows program', 'text', ..."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    head = data[:4096]
    if b"\x00" in head:
        return "binary data"
    low = head.lstrip()[:200].lower()
    if low.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    return "text"


def check_kind(suffix: str, data: bytes) -> None:
    """Refuse, in plain words, a file whose bytes are not the kind its name says."""
    what = sniff(data)
    if suffix == ".pdf":
        if b"%PDF-" not in data[:1024]:
            raise LoadError(f"this file is not a PDF (it looks like {_plain(what)})")
    elif suffix == ".docx":
        if what == "an old Office file (.doc/.xls/.ppt)":
            raise LoadError("this is an old Word .doc file, not a .docx: save it as .docx")
        if what != "a ZIP archive":
            raise LoadError(
                f"this file is not a Word .docx document (it looks like {_plain(what)})"
            )
    elif what == "UTF-16 text":
        raise LoadError("UTF-16 text, not UTF-8; re-save it as UTF-8")
    elif what not in ("text", "an HTML page"):
        raise LoadError(f"binary file, not text (it looks like {_plain(what)})")


def _plain(what: str) -> str:
    return "unknown binary data" if what == "binary data" else what
