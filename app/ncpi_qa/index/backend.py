"""The store seam: what the build writes through and what retrieval and answering read.

Two backends implement it: FAISS + bm25s files in the store folder (``files_store``, the
default) and a Milvus server (``milvus_store``). ``settings.vector_store`` picks one here, and
nothing else in the app knows which. A build writes a whole new *generation* through a
``GenerationWriter`` and ``commit`` switches readers to it atomically; a reader (an
``IndexStore``) keeps answering from the generation it loaded until it sees, with
``is_stale``, that another is live, and then ``reloaded`` gives the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import numpy as np

from ncpi_qa.index.manifest import Manifest, ManifestDocument
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.ingest.documents import Document
from ncpi_qa.settings import Settings

Hits = list[tuple[int, float]]  # (chunk index, score), best first


class IndexStore(Protocol):
    """One loaded generation. Chunk indexes are positions in ``chunks`` (corpus order)."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]

    def dense_search(self, qvec: np.ndarray, n: int) -> Hits:
        """The ``n`` chunks nearest ``qvec`` by inner product (cosine: vectors are unit)."""

    def bm25_search(self, question: str, n: int) -> Hits:
        """The ``n`` best chunks by BM25 (k1 1.5, b 0.75) over the shared tokens; > 0 only."""

    def chunk_vectors_for(self, chunk_indexes: list[int]) -> np.ndarray:
        """The chunks' vectors, fetched by chunk index, in the order asked."""

    def sentence_vectors_for(self, chunk_indexes: list[int]) -> list[np.ndarray]:
        """Each chunk's sentence vectors (one row per ``chunk.sentences`` span)."""

    def document_frequencies(self) -> dict[str, int]:
        """How many chunks hold each BM25 term (the answerer's IDF)."""

    def list_documents(self) -> list[ManifestDocument]:
        """The manifest's documents: doc_id, title, source, kind, sha256, n_chunks, chars."""

    def is_stale(self) -> bool:
        """True once another generation is live: ``reloaded()`` to see it."""

    def reloaded(self) -> IndexStore:
        """The live generation: self if still current, else a freshly loaded store."""


class GenerationWriter(Protocol):
    """A new generation being written. Nothing of it is visible until ``commit``."""

    def put_document(
        self, doc: Document, chunks: list[Chunk], chunk_vecs: np.ndarray, sent_vecs: np.ndarray
    ) -> None:
        """Add the document's chunks and sentences (or replace them if put before)."""

    def delete_document(self, doc_id: str) -> None:
        """Leave the document out of the new generation."""

    def commit(self, manifest: Manifest, checkpoint: Callable[[str], None]) -> None:
        """Write it all, then switch readers to it atomically (``checkpoint("written")``
        just before the switch, ``checkpoint("switched")`` just after); keep the generation
        it replaced one build longer and drop older ones. Until the switch a failure (or a
        kill) leaves the previous generation live."""


class Backend(Protocol):
    """Where generations live: the writer's lock, the live manifest, writers and readers."""

    def describe(self) -> str: ...

    def live_generation(self) -> str | None: ...

    def read_manifest(self) -> Manifest | None: ...

    def writer_lock(self, timeout: float, log=None) -> AbstractContextManager[None]:
        """Held by the one build allowed to write (waits up to ``timeout`` seconds)."""

    def clean_leftovers(self) -> list[str]:
        """Remove what killed builds left. Only while holding ``writer_lock``."""

    def begin(self) -> GenerationWriter: ...

    def load(self) -> IndexStore: ...


def get_backend(settings: Settings) -> Backend:
    if settings.vector_store == "milvus":
        from ncpi_qa.index.milvus_store import MilvusBackend

        return MilvusBackend(settings)
    from ncpi_qa.index.files_store import FilesBackend

    return FilesBackend(settings)


def open_store(settings: Settings) -> IndexStore:
    """The live generation of the configured backend, loaded for reading."""
    return get_backend(settings).load()
