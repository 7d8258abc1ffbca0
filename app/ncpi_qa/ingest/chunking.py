"""Structure-aware chunking: headings -> paragraphs -> sentences, with exact offsets.

A chunk never crosses a section (heading), nor a PDF page except inside a paragraph that
runs on from one page to the next (the chunk's page is the one it starts on); contents
lines (a title, a dot leader, a page number) are not indexed. Paragraphs are packed into a chunk
up to ``max_chars`` and ``max_tokens`` (the embedding model's window: all-MiniLM-L6-v2 reads
256 tokens and silently drops the rest); a paragraph longer than that is split at sentence
boundaries, and a sentence longer than that at whitespace (or, with none, between tokens),
so everything embedded, each chunk (with its title line) and each sentence, is read whole.
Every chunk keeps its sentence spans, so an answer can cite one sentence by its offsets:
``doc.text[s:e]`` is the sentence (or the piece of an over-long one).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from ncpi_qa.ingest.documents import Document
from ncpi_qa.ingest.text import is_toc_line, sentence_spans

CHUNKER_VERSION = 7  # 7: sentence ends from sentencex (docs/segmenter.md); 6: soft line breaks
HEAD_MAX_CHARS = 160  # the title line embedded with a chunk is cut to this


class TokenCounter(Protocol):
    """Counts a text's model tokens (without [CLS]/[SEP]) and says where each token is."""

    name: str

    def spans(self, text: str) -> list[tuple[int, int]]: ...

    def counts(self, texts: list[str]) -> list[int]: ...


class CharTokens:
    """An upper bound for a WordPiece model: every non-space character at most one token.
    Used only when the model's tokenizer cannot be found; it makes chunks smaller than needed."""

    name = "chars"

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"\S", text)]

    def counts(self, texts: list[str]) -> list[int]:
        return [len(t) - sum(c.isspace() for c in t) for t in texts]


class TokenizerTokens:
    """The model's own tokenizer (``tokenizer.json``, Hugging Face tokenizers), exact."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        data = path.read_bytes()
        self.name = f"tokenizer-{hashlib.sha256(data).hexdigest()[:12]}"
        self.tok = Tokenizer.from_str(data.decode("utf-8"))
        self.tok.no_truncation()
        self.tok.no_padding()

    def spans(self, text: str) -> list[tuple[int, int]]:
        return list(self.tok.encode(text, add_special_tokens=False).offsets)

    def counts(self, texts: list[str]) -> list[int]:
        enc = self.tok.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in enc]


def citation_label(title: str, section: str = "", page: int | None = None) -> str:
    """What a person reads for a source: "PCC web page · Background · p. 2"."""
    parts = [title or "Untitled document"]
    if section and section != title:
        parts.append(section)
    if page is not None:
        parts.append(f"p. {page}")
    return " · ".join(parts)


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
        """Human citation label, e.g. "Report · Findings · p. 12" (citation_label)."""
        return citation_label(self.title, self.section, self.page)

    def embed_head(self) -> str:
        """The title line embedded (and BM25-indexed) above the chunk's text."""
        head = self.title if self.section in ("", self.title) else f"{self.title} — {self.section}"
        return head if len(head) <= HEAD_MAX_CHARS else head[: HEAD_MAX_CHARS - 1] + "…"

    def embed_text(self) -> str:
        return f"{self.embed_head()}\n{self.text}"

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
    """Paragraph spans, cut at blank lines, headings and page boundaries (not where a
    paragraph runs on to the next page); headings and contents blocks left out."""
    text = doc.text
    cuts = {0, len(text)}
    for h in doc.headings:
        cuts.update((h.start, h.end))
    for (_, e, _), (s, _, _) in zip(doc.pages, doc.pages[1:], strict=False):
        if "\n" in text[e:s] or text[e:s].strip():  # not one paragraph's space (or nothing)
            cuts.update((e, s))
    if doc.pages:
        cuts.update((doc.pages[0][0], doc.pages[-1][1]))
    for m in re.finditer(r"\n[ \t]*\n", text):
        cuts.update((m.start(), m.end()))
    heading_spans = {(h.start, h.end) for h in doc.headings}
    points = sorted(cuts)
    blocks = []
    for a, b in zip(points, points[1:], strict=False):
        if (a, b) in heading_spans or not text[a:b].strip() or _is_contents(text[a:b], doc):
            continue
        blocks.append((a, b))
    return blocks


def _is_contents(block: str, doc: Document) -> bool:
    """A block of contents lines (most of its lines titles with page numbers)."""
    lines = [ln for ln in block.split("\n") if ln.strip()]
    numbered = doc.kind == "pdf" and len(lines) >= 2  # a PDF keeps a contents page's lines
    n = sum(is_toc_line(ln, numbered) for ln in lines)
    return n >= 1 and n * 2 >= len(lines)


def chunk_document(
    doc: Document,
    max_chars: int = 800,
    max_tokens: int = 256,
    counter: TokenCounter | None = None,
) -> list[Chunk]:
    """Chunks of ``doc``: none over ``max_chars`` characters, and none whose embedded text
    (title line + text) or sentence is over ``max_tokens`` model tokens with [CLS]/[SEP].
    ``counter`` counts the model's tokens (the index passes the embedding model's tokenizer,
    ``index.embedding.model_token_counter``); without one, the CharTokens upper bound."""
    counter = counter or CharTokens()
    chunks: list[Chunk] = []
    for section, page, paragraphs in _groups(doc):
        head = Chunk("", doc.doc_id, doc.title, section, page, 0, 0, "").embed_head()
        # [CLS] + head + text + [SEP]; the newline between head and text is no token.
        budget = max_tokens - 2 - counter.counts([head])[0]
        budget = max(min(budget, max_tokens - 2), 8)
        paragraphs = [
            [p for s, e in sents for p in split_span(doc.text, s, e, max_chars, budget, counter)]
            for sents in paragraphs
        ]
        for sents in _packed(doc.text, paragraphs, max_chars, budget, counter):
            _emit(doc, section, page, sents, budget, counter, chunks)
    return chunks


def _groups(doc: Document) -> list[tuple[str, int | None, list[list[tuple[int, int]]]]]:
    """The document's blocks as sentence spans (contents lines left out), each block a
    paragraph, grouped while the section and the page stay the same."""
    text = doc.text
    groups: list[tuple[str, int | None, list[list[tuple[int, int]]]]] = []
    for a, b in _blocks(doc):
        sents = [(s, e) for s, e in sentence_spans(text, a, b) if not is_toc_line(text[s:e])]
        if not sents:
            continue
        key = (_section_path(doc, a), doc.page_at(a))
        if groups and (groups[-1][0], groups[-1][1]) == key:
            groups[-1][2].append(sents)
        else:
            groups.append((key[0], key[1], [sents]))
    return groups


def _packed(
    text: str,
    paragraphs: list[list[tuple[int, int]]],
    max_chars: int,
    budget: int,
    counter: TokenCounter,
) -> Iterator[list[tuple[int, int]]]:
    """The spans of one group packed greedily into chunks of at most ``max_chars``
    characters and ``budget`` tokens: whole paragraphs where they fit, else a long
    paragraph's sentences one by one."""
    flat = [s for sents in paragraphs for s in sents]
    n_tok = dict(zip(flat, counter.counts([text[s:e] for s, e in flat]), strict=True))

    def gap(a, b):  # tokens between two spans: an upper bound (bullets, punctuation)
        return CharTokens().counts([text[a[1] : b[0]]])[0]

    current: list[tuple[int, int]] = []
    used = 0  # tokens in current, gaps included
    for sents in paragraphs:
        para_tok = sum(n_tok[s] for s in sents) + sum(
            gap(x, y) for x, y in zip(sents, sents[1:], strict=False)
        )
        if current and (
            sents[-1][1] - current[0][0] > max_chars
            or used + gap(current[-1], sents[0]) + para_tok > budget
        ):
            yield current
            current, used = [], 0
        if sents[-1][1] - sents[0][0] <= max_chars and para_tok <= budget:
            used += (gap(current[-1], sents[0]) if current else 0) + para_tok
            current.extend(sents)
            continue
        for s in sents:  # a long paragraph: pack its sentences
            if current and (
                s[1] - current[0][0] > max_chars or used + gap(current[-1], s) + n_tok[s] > budget
            ):
                yield current
                current, used = [], 0
            used += (gap(current[-1], s) if current else 0) + n_tok[s]
            current.append(s)
    if current:
        yield current


def _emit(doc, section, page, sents, budget, counter: TokenCounter, chunks: list[Chunk]) -> None:
    """One chunk of ``sents`` onto ``chunks``. Token counts add up across whitespace; pieces
    cut between tokens (no whitespace between them) may tokenise differently together: such
    a chunk is counted again, and halved while it is over ``budget``."""
    text = doc.text
    pairs = zip(sents, sents[1:], strict=False)
    joined = any(not text[a[1] : b[0]][:1].isspace() for a, b in pairs)
    if joined and len(sents) > 1:
        n = counter.counts([text[sents[0][0] : sents[-1][1]]])[0]
        if n > budget:
            half = len(sents) // 2
            _emit(doc, section, page, sents[:half], budget, counter, chunks)
            _emit(doc, section, page, sents[half:], budget, counter, chunks)
            return
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
            text[start:end],
            list(sents),
        )
    )


def split_span(
    text: str, start: int, end: int, max_chars: int, max_tokens: int, counter: TokenCounter
) -> list[tuple[int, int]]:
    """``text[start:end]`` as pieces of at most ``max_chars`` characters and ``max_tokens``
    tokens, cut at whitespace where there is some (else between tokens); exact, trimmed
    offsets. A span that fits is returned whole."""
    pieces: list[tuple[int, int]] = []
    s = start
    while True:
        while s < end and text[s].isspace():
            s += 1
        if s >= end:
            return pieces
        rest = end - s
        if rest <= max_chars and (
            rest <= max_tokens or counter.counts([text[s:end]])[0] <= max_tokens
        ):
            pieces.append((s, end))
            return pieces
        limit = min(end, s + max_chars)
        spans = counter.spans(text[s:limit])
        if len(spans) > max_tokens:
            limit = s + spans[max_tokens - 1][1]
        cut = limit
        if limit < end and not text[limit].isspace():  # back off to the last whitespace
            ws = max((m.start() for m in re.finditer(r"\s", text[s:limit])), default=-1)
            if ws > (limit - s) // 3:
                cut = s + ws
        while True:  # re-tokenised alone, a piece cut between tokens may count differently
            b = cut
            while b > s and text[b - 1].isspace():
                b -= 1
            n = counter.counts([text[s:b]])[0]
            if n <= max_tokens or b - s <= 1:
                break
            cut = s + counter.spans(text[s:b])[max(max_tokens - 1 - (n - max_tokens), 0)][1]
        pieces.append((s, b))
        s = cut
