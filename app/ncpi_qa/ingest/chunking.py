"""Structure-aware chunking: headings -> paragraphs -> sentences, with exact offsets.

A chunk never crosses a section (heading) or a PDF page. Paragraphs are packed into a chunk
up to ``max_chars``; a paragraph longer than that is split at sentence boundaries. Every
chunk keeps its sentence spans, so an answer can cite one sentence by its offsets.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ncpi_qa.ingest.documents import Document
from ncpi_qa.ingest.text import sentence_spans

CHUNKER_VERSION = 3


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    section: str
    page: int | None
    start: int
    end: int
    text: str
    sentences: list[tuple[int, int]] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Human citation label, e.g. "Report § Findings, p. 12"."""
        parts = [self.title]
        if self.section and self.section != self.title:
            parts.append(f"§ {self.section}")
        if self.page is not None:
            parts.append(f"p. {self.page}")
        return ", ".join([" ".join(parts[:2])] + parts[2:])

    def embed_text(self) -> str:
        head = self.title if self.section in ("", self.title) else f"{self.title} — {self.section}"
        return f"{head}\n{self.text}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Chunk:
        d = dict(d)
        d["sentences"] = [tuple(s) for s in d.get("sentences", [])]
        return cls(**d)


def chunk_id(doc: Document, page: int | None, start: int, end: int) -> str:
    """A chunk's identity carries its citation: document, page and character offsets."""
    return f"{doc.doc_id}{f' p{page}' if page is not None else ''} [{start}:{end}]"


def _section_path(doc: Document, offset: int) -> str:
    stack: list[tuple[int, str]] = []
    for h in doc.headings:
        if h.start > offset:
            break
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        stack.append((h.level, h.text))
    path = [t for _, t in stack]
    # The document title as the top heading adds nothing to a section path.
    if path and path[0] == doc.title:
        path = path[1:]
    return " › ".join(path)


def _blocks(doc: Document) -> list[tuple[int, int]]:
    """Paragraph spans, cut at blank lines, headings and page boundaries; headings left out."""
    text = doc.text
    cuts = {0, len(text)}
    for h in doc.headings:
        cuts.update((h.start, h.end))
    for s, e, _ in doc.pages:
        cuts.update((s, e))
    for m in re.finditer(r"\n[ \t]*\n", text):
        cuts.update((m.start(), m.end()))
    heading_spans = {(h.start, h.end) for h in doc.headings}
    points = sorted(cuts)
    blocks = []
    for a, b in zip(points, points[1:], strict=False):
        if (a, b) in heading_spans or not text[a:b].strip():
            continue
        blocks.append((a, b))
    return blocks


def chunk_document(doc: Document, max_chars: int = 800) -> list[Chunk]:
    groups: list[tuple[str, int | None, list[tuple[int, int]]]] = []
    for a, b in _blocks(doc):
        sents = sentence_spans(doc.text, a, b)
        if not sents:
            continue
        key = (_section_path(doc, a), doc.page_at(a))
        if groups and (groups[-1][0], groups[-1][1]) == key:
            groups[-1][2].append(sents)
        else:
            groups.append((key[0], key[1], [sents]))

    chunks: list[Chunk] = []

    def emit(section, page, sents):
        start, end = sents[0][0], sents[-1][1]
        chunks.append(
            Chunk(
                chunk_id(doc, page, start, end),
                doc.doc_id,
                doc.title,
                section,
                page,
                start,
                end,
                doc.text[start:end],
                list(sents),
            )
        )

    for section, page, paragraphs in groups:
        current: list[tuple[int, int]] = []
        for sents in paragraphs:
            para_len = sents[-1][1] - sents[0][0]
            if current and sents[-1][1] - current[0][0] > max_chars:
                emit(section, page, current)
                current = []
            if para_len <= max_chars:
                current.extend(sents)
                continue
            for s in sents:  # a long paragraph: pack its sentences
                if current and s[1] - current[0][0] > max_chars:
                    emit(section, page, current)
                    current = []
                current.append(s)
        if current:
            emit(section, page, current)
    return chunks
