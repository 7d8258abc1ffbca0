"""Loading source files into documents: an id, a title, and the exact text citations point into.

Each loader turns a file into blocks (headings, paragraphs, list items, page breaks) that a
``TextBuilder`` joins into one text while recording heading and page offsets. Any failure
becomes a ``LoadError`` naming the reason; the caller skips that file and goes on.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

IGNORED_NAMES = {"readme.md", "readme.txt", "readme"}


class LoadError(Exception):
    """A file that cannot be read as a document; the message is the reason."""


@dataclass
class Heading:
    start: int
    end: int
    level: int
    text: str


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    source: str
    kind: str
    sha256: str
    note: str = ""
    headings: list[Heading] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, page number)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Document:
        d = dict(d)
        d["headings"] = [Heading(**h) for h in d.get("headings", [])]
        d["pages"] = [tuple(p) for p in d.get("pages", [])]
        return cls(**d)

    def page_at(self, offset: int) -> int | None:
        for start, end, number in self.pages:
            if start <= offset < end:
                return number
        return None


class TextBuilder:
    """Joins blocks with blank lines, remembering where headings and pages start and end."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[Heading] = []
        self.pages: list[tuple[int, int, int]] = []
        self._page: tuple[int, int] | None = None

    def _append(self, text: str) -> tuple[int, int]:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start, self.length

    def heading(self, text: str, level: int) -> None:
        text = _clean_inline(text)
        if text:
            s, e = self._append(text)
            self.headings.append(Heading(s, e, level, text))

    def mark(self, text: str, level: int) -> None:
        """A heading known from metadata (a PDF bookmark): starts a section, adds no text."""
        at = self.length + (2 if self.parts else 0)
        self.headings.append(Heading(at, at, level, _clean_inline(text)))

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if text:
            self._append(text)

    def items(self, items: list[str]) -> None:
        lines = [f"• {_clean_inline(i)}" for i in items if _clean_inline(i)]
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


def _clean_inline(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text.replace("\n", " ")).strip()


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "doc"


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_document(path: Path, doc_id: str | None = None, data: bytes | None = None) -> Document:
    """Load one file; raises LoadError with the reason if it cannot be used."""
    from ncpi_qa.ingest.loaders import LOADERS

    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise LoadError(f"unsupported file type '{suffix or '(none)'}'")
    try:
        data = path.read_bytes() if data is None else data
    except OSError as e:
        raise LoadError(f"cannot read file ({e.strerror})") from e
    if not data.strip():
        raise LoadError("empty file")
    try:
        parts = LOADERS[suffix](path, data)
    except LoadError:
        raise
    except Exception as e:  # a loader bug or a library error on odd input: skip, say why
        raise LoadError(f"could not be parsed ({type(e).__name__}: {e})") from e
    if not parts["text"].strip():
        raise LoadError("no text found")
    return Document(
        doc_id=doc_id or slug(path.stem),
        title=parts["title"],
        text=parts["text"],
        source=path.name,
        kind=suffix.lstrip("."),
        sha256=file_sha256(data),
        note=parts.get("note", ""),
        headings=parts.get("headings", []),
        pages=parts.get("pages", []),
    )


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Files under corpus_dir to index (hidden files and READMEs left out)."""
    files = []
    for p in sorted(corpus_dir.rglob("*")):
        rel = p.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if p.name.lower() in IGNORED_NAMES:
            continue
        files.append(p)
    return files


def assign_ids(files: list[Path], corpus_dir: Path) -> dict[Path, str]:
    """Stable ids from file names; clashes (a.pdf and a.docx) get the extension appended."""
    base = {p: slug(str(p.relative_to(corpus_dir).with_suffix(""))) for p in files}
    counts: dict[str, int] = {}
    for v in base.values():
        counts[v] = counts.get(v, 0) + 1
    return {
        p: (v if counts[v] == 1 else f"{v}-{p.suffix.lower().lstrip('.')}") for p, v in base.items()
    }
