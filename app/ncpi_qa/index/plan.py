"""What a build will do, decided before it does anything: the corpus scanned (``scan``), the
fingerprints it compares with the live manifest (``chunking_config``, ``limits_config``), and
the typed ``BuildPlan`` the stages in index/build.py run over. Also how the index cuts and
embeds one document (``chunk_for_index``, ``embed_texts``, ``sentence_spans``), which the
benchmarks call on their own."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ncpi_qa.index.embedding import BUNDLED, model_token_counter
from ncpi_qa.index.generations import FORMAT_VERSION
from ncpi_qa.index.manifest import Manifest
from ncpi_qa.index.precision import resolve as resolve_precision
from ncpi_qa.ingest.chunking import CHUNKER_VERSION, Chunk, chunk_document
from ncpi_qa.ingest.documents import (
    Document,
    assign_ids,
    corpus_files,
    file_sha256,
    outside_corpus,
)
from ncpi_qa.ingest.limits import Limits, size_refusal
from ncpi_qa.settings import Settings

BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what the bundled model is called


def chunking_config(settings: Settings) -> dict:
    return {
        "chunker_version": CHUNKER_VERSION,
        "max_chars": settings.chunk_max_chars,
        "max_tokens": settings.chunk_max_tokens,
        "tokenizer": model_token_counter(settings.embedding_model).name,
        # how sentence vectors are made (index/pooling.py): a change re-embeds everything
        "sentence_vectors": settings.sentence_vectors,
        # the forward pass's arithmetic (index/precision.py): vectors of another are re-made
        "precision": resolve_precision(settings.precision),
    }


def limits_config(settings: Settings) -> dict:
    """The content limits a build read its files under: a change re-reads the corpus (a file
    skipped for being over a limit is indexed once the limit is raised)."""
    return dataclasses.asdict(Limits.from_settings(settings))


def model_name(settings: Settings, embedder=None) -> str:
    """The embedding model's name as the manifest records it (the embedder's, if given)."""
    if embedder is not None:
        return embedder.name
    return BUNDLED_NAME if settings.embedding_model == BUNDLED else settings.embedding_model


def chunk_for_index(doc: Document, settings: Settings) -> list[Chunk]:
    """A document's chunks exactly as build_index makes them (size limits, the model's tokens)."""
    return chunk_document(
        doc,
        settings.chunk_max_chars,
        settings.chunk_max_tokens,
        model_token_counter(settings.embedding_model),
    )


def embed_texts(doc: Document, chunks: list[Chunk]) -> tuple[list[str], list[str]]:
    """What the index embeds for one document: each chunk's text, and each chunk's sentences."""
    return [c.embed_text() for c in chunks], [doc.text[s:e] for c in chunks for s, e in c.sentences]


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Where each of the chunk's sentences lies in its ``embed_text()`` (title line, newline,
    then the chunk's text), for pooling them from the chunk's forward pass."""
    base = len(chunk.embed_head()) + 1 - chunk.start
    return [(base + s, base + e) for s, e in chunk.sentences]


@dataclass(frozen=True)
class ScanEntry:
    """One candidate file of the corpus: its bytes and their sha256, or why it is skipped."""

    path: Path
    doc_id: str
    data: bytes | None = None
    sha256: str | None = None
    skip_reason: str | None = None

    @property
    def fingerprint(self) -> str:
        """What the manifest records for the file: its hash, or "skip:" and the reason (so a
        file that becomes readable, or a limit that is raised, reads as a change)."""
        return self.sha256 if self.skip_reason is None else f"skip:{self.skip_reason}"


def scan(corpus_dir: Path, max_file_mb: float | None = None) -> list[ScanEntry]:
    """Every candidate file with its bytes, or the reason it cannot be used."""
    files = corpus_files(corpus_dir)
    ids = assign_ids(files, corpus_dir)
    out = []
    for p in files:
        why = outside_corpus(p, corpus_dir)
        if why is not None:  # a symbolic link out of the corpus is never read
            out.append(ScanEntry(p, ids[p], skip_reason=why))
            continue
        try:
            size = p.stat().st_size
            why = None if max_file_mb is None else size_refusal(size, max_file_mb)
            if why is not None:
                out.append(ScanEntry(p, ids[p], skip_reason=why))
                continue
            data = p.read_bytes()
            out.append(ScanEntry(p, ids[p], data, file_sha256(data)))
        except OSError as e:
            out.append(ScanEntry(p, ids[p], skip_reason=f"cannot read file ({e.strerror})"))
    return out


def file_fingerprints(entries: list[ScanEntry], corpus_dir: Path) -> dict[str, str]:
    return {str(e.path.relative_to(corpus_dir)): e.fingerprint for e in entries}


def is_current(manifest: Manifest, settings: Settings, entries: list[ScanEntry], name: str):
    """Whether ``manifest`` was built by this version from exactly these files, with this
    model, chunking and content limits (then a build would change nothing)."""
    return (
        manifest.format_version == FORMAT_VERSION
        and manifest.model == name
        and manifest.chunking == chunking_config(settings)
        and manifest.files == file_fingerprints(entries, settings.corpus_dir)
        and manifest.limits == limits_config(settings)
    )


@dataclass(frozen=True)
class BuildPlan:
    """One build, decided: what to read (``scan``), with which model and chunking, against
    which previous manifest (its documents' times are kept), and how to report."""

    settings: Settings
    model_name: str
    scan: list[ScanEntry]
    previous: Manifest | None = None
    rebuild: bool = False
    progress: Any = False  # True: a terminal bar; a callable: given each BuildProgress
    log: Callable[[str], None] = print

    @property
    def chunking(self) -> dict:
        return chunking_config(self.settings)

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    @property
    def cache_dir(self) -> Path:
        return self.settings.store_dir / "cache"

    def cache_file(self, doc: Document) -> Path:
        """Where the document's vectors are cached: its content hash + model + chunking."""
        blob = json.dumps({"model": self.model_name, "chunking": self.chunking}, sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()[:12]
        return self.cache_dir / f"{doc.sha256[:24]}-{key}.npz"


@dataclass
class DocumentPart:
    """One document through the stages: its chunks, then its vectors (cached or embedded)."""

    doc: Document
    chunks: list[Chunk]
    cache_file: Path
    chunk_vecs: np.ndarray | None = None
    sent_vecs: np.ndarray | None = None
    indexed_at: str = ""  # when its vectors were made
