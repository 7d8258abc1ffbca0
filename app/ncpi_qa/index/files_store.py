"""The default backend: FAISS + bm25s files in the store folder, one ``gen-*`` folder per build.

Layout under the store folder::

    CURRENT              name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/         manifest.json, documents.jsonl, chunks.jsonl, chunk_vectors.npy,
                         sentence_vectors.npy, faiss.index, bm25/
    cache/<key>.npz      per-document vectors (index/store.py), keyed by content hash + config
    .build.lock          held (fcntl.flock) by the one build allowed to write at a time

A generation is written in ``.tmp-gen-*``, renamed into place, and made live by replacing
CURRENT; a crash or kill before that leaves the previous generation live. The generation
CURRENT named before is kept one build longer (a reader that loaded it keeps working); older
ones are removed.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ncpi_qa.errors import IndexIncompatibleError, NoIndexError

if TYPE_CHECKING:  # loaded lazily where they are used (faiss and bm25s cost import time)
    import bm25s
    import faiss
from ncpi_qa.index.dense import FaissSearch, build_faiss
from ncpi_qa.index.generations import (
    FORMAT_VERSION,
    clean_leftovers,
    current_generation,
    read_manifest,
    sentence_offsets,
    store_lock,
)
from ncpi_qa.index.lexical import (
    bm25s_document_frequencies,
    bm25s_search,
    build_bm25,
    load_bm25,
)
from ncpi_qa.index.manifest import Manifest, ManifestDocument
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.ingest.documents import Document
from ncpi_qa.settings import Settings


class FilesBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store_dir = settings.store_dir

    def describe(self) -> str:
        return f"FAISS files in {self.store_dir}"

    def live_generation(self) -> str | None:
        gen = current_generation(self.store_dir)
        return gen.name if gen is not None else None

    def read_manifest(self) -> Manifest | None:
        return read_manifest(self.store_dir)

    def writer_lock(self, timeout: float, log=None):
        return store_lock(self.store_dir, timeout, log)

    def clean_leftovers(self) -> list[str]:
        return clean_leftovers(self.store_dir)

    def begin(self) -> FilesWriter:
        return FilesWriter(self.store_dir, self.settings.exact_search_max)

    def load(self) -> Store:
        return Store.load(self.store_dir)


class FilesWriter:
    def __init__(self, store_dir: Path, exact_max: int) -> None:
        self.store_dir, self.exact_max = store_dir, exact_max
        self.docs: dict[str, tuple[Document, list[Chunk], np.ndarray, np.ndarray]] = {}

    def put_document(self, doc, chunks, chunk_vecs, sent_vecs) -> None:
        self.docs.pop(doc.doc_id, None)  # a replaced document moves to the end
        self.docs[doc.doc_id] = (doc, chunks, chunk_vecs, sent_vecs)

    def delete_document(self, doc_id: str) -> None:
        self.docs.pop(doc_id, None)

    def commit(self, manifest: Manifest, checkpoint: Callable[[str], None]) -> None:
        parts = list(self.docs.values())
        chunks = [c for _, cs, _, _ in parts for c in cs]
        # Vectors are float32 already; astype would copy ~1 GB at 200k chunks.
        chunk_matrix = np.concatenate([cv for _, _, cv, _ in parts])
        sent_matrix = np.concatenate([sv for _, _, _, sv in parts])
        self._write(
            [d for d, _, _, _ in parts], chunks, chunk_matrix, sent_matrix, manifest, checkpoint
        )

    def _write(self, docs, chunks, chunk_matrix, sent_matrix, manifest, checkpoint):
        store_dir = self.store_dir
        stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
        tmp = store_dir / f".tmp-gen-{stamp}"
        final = store_dir / f"gen-{stamp}"
        pointer = store_dir / f".CURRENT.{stamp}"
        previous = current_generation(store_dir)
        switched = False
        tmp.mkdir(parents=True)
        try:
            with open(tmp / "documents.jsonl", "w", encoding="utf-8") as f:
                for d in docs:
                    f.write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")
            with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
                for c in chunks:
                    f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
            np.save(tmp / "chunk_vectors.npy", chunk_matrix)
            np.save(tmp / "sentence_vectors.npy", sent_matrix)
            try:
                faiss_kind = build_faiss(chunk_matrix, tmp / "faiss.index", self.exact_max)
            except RuntimeError as e:  # FAISS reports a failed write (disk full) as RuntimeError
                raise OSError(errno.EIO, f"FAISS could not write its index ({e})".strip()) from e
            manifest.faiss = faiss_kind
            build_bm25([c.embed_text() for c in chunks], tmp / "bm25")
            (tmp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
            os.replace(tmp, final)
            pointer.write_text(final.name + "\n")
            with open(pointer) as f:
                os.fsync(f.fileno())
            checkpoint("written")
            os.replace(pointer, store_dir / "CURRENT")  # the atomic switch
            switched = True
        except BaseException:
            if not switched:  # CURRENT still names the previous generation: drop all of ours
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
                pointer.unlink(missing_ok=True)
            raise
        checkpoint("switched")
        keep = {final.name} | ({previous.name} if previous is not None else set())
        for old in store_dir.iterdir():
            if old.is_dir() and old.name.startswith("gen-") and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)


@dataclass
class Store:
    """A loaded generation of the files backend: documents, chunks, vectors, two indexes."""

    path: Path
    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: list[int]  # index of each chunk's first sentence in sentence_vectors
    faiss_index: faiss.Index  # IndexFlatIP, or IndexHNSWFlat above exact_search_max
    bm25: bm25s.BM25

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        return FaissSearch(self.faiss_index).search(qvec, n)

    def bm25_search(self, question: str, n: int) -> list[tuple[int, float]]:
        return bm25s_search(self.bm25, question, min(n, len(self.chunks)))

    def chunk_vectors_for(self, chunk_indexes: list[int]) -> np.ndarray:
        return np.asarray(self.chunk_vectors[list(chunk_indexes)])

    def sentence_vectors_for(self, chunk_indexes: list[int]) -> list[np.ndarray]:
        out = []
        for ci in chunk_indexes:
            base = self.sentence_offsets[ci]
            n = len(self.chunks[ci].sentences)
            out.append(np.asarray(self.sentence_vectors[base : base + n]))
        return out

    def document_frequencies(self) -> dict[str, int]:
        return bm25s_document_frequencies(self.bm25)

    def list_documents(self) -> list[ManifestDocument]:
        return list(self.manifest.documents)

    def is_stale(self) -> bool:
        """True when a newer build has switched CURRENT away from this loaded generation:
        load again to see it. This Store stays usable meanwhile (its generation is kept one
        build longer, and its memory-mapped files stay readable even once removed)."""
        gen = current_generation(self.path.parent)
        return gen is not None and gen.name != self.path.name

    def reloaded(self) -> Store:
        """The live generation: self if it is still current, else a freshly loaded Store."""
        return Store.load(self.path.parent) if self.is_stale() else self

    @classmethod
    def load(cls, store_dir: Path) -> Store:
        for attempt in range(3):
            gen = current_generation(store_dir)
            if gen is None:
                raise NoIndexError(store_dir)
            try:
                return cls._load_generation(store_dir, gen)
            except (OSError, RuntimeError, ValueError, KeyError) as e:  # RuntimeError: FAISS
                if attempt < 2 and current_generation(store_dir) != gen:
                    continue  # builds switched and pruned it while we read: read CURRENT again
                raise IndexIncompatibleError(
                    store_dir, f"its files are missing or damaged: {type(e).__name__}: {e}"
                ) from e
        raise AssertionError("unreachable")

    @classmethod
    def _load_generation(cls, store_dir: Path, gen: Path) -> Store:
        import faiss

        manifest = _manifest(store_dir, (gen / "manifest.json").read_text(encoding="utf-8"))
        with open(gen / "documents.jsonl", encoding="utf-8") as f:
            docs = [Document.from_dict(json.loads(line)) for line in f]
        with open(gen / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [Chunk.from_dict(json.loads(line)) for line in f]
        return cls(
            path=gen,
            manifest=manifest,
            documents={d.doc_id: d for d in docs},
            chunks=chunks,
            chunk_vectors=np.load(gen / "chunk_vectors.npy", mmap_mode="r"),
            sentence_vectors=np.load(gen / "sentence_vectors.npy", mmap_mode="r"),
            sentence_offsets=sentence_offsets(chunks),
            faiss_index=faiss.read_index(str(gen / "faiss.index")),
            bm25=load_bm25(gen / "bm25"),
        )


def _manifest(where, text: str) -> Manifest:
    """A generation's manifest, or IndexIncompatibleError when another version wrote it."""
    try:
        if json.loads(text).get("format_version") != FORMAT_VERSION:
            raise IndexIncompatibleError(where, "it was built by another version")
        return Manifest.parse(text)
    except (ValueError, AttributeError) as e:  # not JSON, not an object, not a manifest
        raise IndexIncompatibleError(where, f"its manifest is damaged ({e})") from e
