"""The index on disk: build it (incrementally, atomically) and load it.

Layout under the store folder::

    CURRENT              name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/         manifest.json, documents.jsonl, chunks.jsonl, chunk_vectors.npy,
                         sentence_vectors.npy, faiss.index, bm25/
    cache/<key>.npz      per-document vectors, keyed by content hash + model + chunking

A build writes a whole new generation, then flips CURRENT; a crash or Ctrl-C before the
flip leaves the previous generation live. Unchanged documents reuse cached vectors.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ncpi_qa.errors import (
    CorpusNotFoundError,
    EmptyCorpusError,
    IndexIncompatibleError,
    NoIndexError,
)
from ncpi_qa.ingest.chunking import CHUNKER_VERSION, Chunk, chunk_document
from ncpi_qa.ingest.documents import (
    Document,
    LoadError,
    assign_ids,
    corpus_files,
    file_sha256,
    load_document,
)
from ncpi_qa.settings import Settings

FORMAT_VERSION = 1


def chunking_config(settings: Settings) -> dict:
    return {"chunker_version": CHUNKER_VERSION, "max_chars": settings.chunk_max_chars}


def _config_key(model: str, chunking: dict) -> str:
    blob = json.dumps({"model": model, "chunking": chunking}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def current_generation(store_dir: Path) -> Path | None:
    try:
        name = (store_dir / "CURRENT").read_text().strip()
    except OSError:
        return None
    gen = store_dir / name
    return gen if (gen / "manifest.json").exists() else None


def read_manifest(store_dir: Path) -> dict | None:
    gen = current_generation(store_dir)
    return json.loads((gen / "manifest.json").read_text()) if gen else None


@dataclass
class BuildReport:
    indexed: list[str] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)  # doc ids whose vectors were computed
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    up_to_date: bool = False
    n_chunks: int = 0
    n_sentences: int = 0
    texts_embedded: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines = []
        if self.up_to_date:
            lines.append(
                f"Index is up to date ({len(self.indexed)} documents, {self.n_chunks} "
                "chunks): nothing to embed."
            )
        else:
            lines.append(
                f"Indexed {len(self.indexed)} documents, {self.n_chunks} chunks, "
                f"{self.n_sentences} sentences in {self.seconds:.1f}s: embedded "
                f"{len(self.embedded)} document(s) ({self.texts_embedded} texts), reused "
                f"{len(self.reused)}, removed {len(self.removed)}."
            )
        for name, why in self.skipped:
            lines.append(f"Skipped {name}: {why}")
        return "\n".join(lines)


def _scan(corpus_dir: Path) -> list[tuple[Path, str, bytes | None, str | None]]:
    """(path, doc id, bytes, sha256) for every candidate file; bytes None if unreadable."""
    files = corpus_files(corpus_dir)
    ids = assign_ids(files, corpus_dir)
    out = []
    for p in files:
        try:
            data = p.read_bytes()
            out.append((p, ids[p], data, file_sha256(data)))
        except OSError:
            out.append((p, ids[p], None, None))
    return out


def is_up_to_date(settings: Settings, embedder_name: str) -> tuple[bool, dict | None, list]:
    """Cheap check (hashes only, no model, no parsing) of whether a rebuild would change nothing."""
    manifest = read_manifest(settings.store_dir)
    scan = _scan(settings.corpus_dir)
    if not manifest:
        return False, None, scan
    files = {str(p.relative_to(settings.corpus_dir)): sha for p, _, _, sha in scan}
    same = (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("model") == embedder_name
        and manifest.get("chunking") == chunking_config(settings)
        and manifest.get("files") == files
    )
    return same, manifest, scan


def build_index(
    settings: Settings, embedder=None, rebuild: bool = False, progress: bool = False, log=None
) -> BuildReport:
    """Index settings.corpus_dir into settings.store_dir. ``embedder`` is made lazily if needed."""
    from ncpi_qa.index.embedding import BUNDLED

    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    corpus_dir, store_dir = settings.corpus_dir, settings.store_dir
    if not corpus_dir.is_dir():
        raise CorpusNotFoundError(corpus_dir)
    model_name = (
        embedder.name
        if embedder is not None
        else (
            "sentence-transformers/all-MiniLM-L6-v2"
            if settings.embedding_model == BUNDLED
            else settings.embedding_model
        )
    )
    same, manifest, scan = is_up_to_date(settings, model_name)
    report = BuildReport()
    if same and not rebuild:
        report.up_to_date = True
        report.indexed = [d["doc_id"] for d in manifest["documents"]]
        report.n_chunks = manifest["n_chunks"]
        report.skipped = [tuple(s) for s in manifest.get("skipped", [])]
        report.seconds = time.perf_counter() - t0
        return report

    docs: list[Document] = []
    for path, doc_id, data, _sha in scan:
        try:
            if data is None:
                raise LoadError("cannot read file")
            docs.append(load_document(path, doc_id, data))
        except LoadError as e:
            name = str(path.relative_to(corpus_dir))
            report.skipped.append((name, str(e)))
            log(f"warning: skipping {name}: {e}")
    if not docs:
        raise EmptyCorpusError(corpus_dir, report.skipped)

    chunking = chunking_config(settings)
    key = _config_key(model_name, chunking)
    cache_dir = store_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    previous = {d["doc_id"] for d in manifest["documents"]} if manifest else set()

    all_chunks: list[Chunk] = []
    chunk_vecs, sent_vecs, used_cache = [], [], set()
    pending: list[tuple[Document, list[Chunk], Path]] = []
    per_doc: dict[str, tuple[list[Chunk], np.ndarray | None, np.ndarray | None]] = {}
    for doc in docs:
        chunks = chunk_document(doc, settings.chunk_max_chars)
        cache_file = cache_dir / f"{doc.sha256[:24]}-{key}.npz"
        used_cache.add(cache_file.name)
        if cache_file.exists() and not rebuild:
            with np.load(cache_file) as z:
                per_doc[doc.doc_id] = (chunks, z["chunks"], z["sentences"])
            report.reused.append(doc.doc_id)
        else:
            per_doc[doc.doc_id] = (chunks, None, None)
            pending.append((doc, chunks, cache_file))

    if pending:
        if embedder is None:
            from ncpi_qa.index.embedding import get_embedder

            embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
        texts, bounds = [], []
        for doc, chunks, _ in pending:
            a = len(texts)
            texts += [c.embed_text() for c in chunks]
            b = len(texts)
            texts += [doc.text[s:e] for c in chunks for s, e in c.sentences]
            bounds.append((a, b, len(texts)))
        log(f"Embedding {len(texts)} texts ({len(pending)} document(s)) with {embedder.name}...")
        vecs = np.asarray(embedder.encode(texts, progress=progress), dtype=np.float32)
        report.texts_embedded = len(texts)
        for (doc, chunks, cache_file), (a, b, c) in zip(pending, bounds, strict=True):
            per_doc[doc.doc_id] = (chunks, vecs[a:b], vecs[b:c])
            tmp = cache_file.with_suffix(".tmp.npz")
            np.savez(tmp, chunks=vecs[a:b], sentences=vecs[b:c])
            os.replace(tmp, cache_file)
            report.embedded.append(doc.doc_id)

    for doc in docs:
        chunks, cv, sv = per_doc[doc.doc_id]
        all_chunks += chunks
        chunk_vecs.append(cv)
        sent_vecs.append(sv)
    dim = embedder.dim if embedder is not None else int(chunk_vecs[0].shape[1])
    # Vectors are float32 already; astype would copy ~1 GB at 200k chunks.
    chunk_matrix = np.concatenate(chunk_vecs) if chunk_vecs else None
    sent_matrix = np.concatenate(sent_vecs)

    files = {str(p.relative_to(corpus_dir)): sha for p, _, _, sha in scan}
    new_manifest = {
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "dim": dim,
        "chunking": chunking,
        "files": files,
        "documents": [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "source": d.source,
                "kind": d.kind,
                "sha256": d.sha256,
                "n_chunks": len(per_doc[d.doc_id][0]),
                "chars": len(d.text),
            }
            for d in docs
        ],
        "skipped": report.skipped,
        "n_chunks": len(all_chunks),
        "n_sentences": int(sent_matrix.shape[0]),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_generation(
        store_dir, docs, all_chunks, chunk_matrix, sent_matrix, new_manifest, settings
    )
    for stale in cache_dir.glob("*.npz"):
        if stale.name not in used_cache:
            stale.unlink(missing_ok=True)

    report.indexed = [d.doc_id for d in docs]
    report.removed = sorted(previous - set(report.indexed))
    report.n_chunks = len(all_chunks)
    report.n_sentences = int(sent_matrix.shape[0])
    report.seconds = time.perf_counter() - t0
    return report


def _write_generation(store_dir, docs, chunks, chunk_matrix, sent_matrix, manifest, settings):
    from ncpi_qa.qa.retrieve import build_bm25, build_faiss

    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{time.perf_counter_ns() % 10**6}"
    tmp = store_dir / f".tmp-gen-{stamp}"
    final = store_dir / f"gen-{stamp}"
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
        faiss_kind = build_faiss(chunk_matrix, tmp / "faiss.index", settings.exact_search_max)
        manifest["faiss"] = faiss_kind
        build_bm25([c.embed_text() for c in chunks], tmp / "bm25")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        os.replace(tmp, final)
        pointer = store_dir / f".CURRENT.{stamp}"
        pointer.write_text(final.name + "\n")
        with open(pointer) as f:
            os.fsync(f.fileno())
        os.replace(pointer, store_dir / "CURRENT")  # the atomic switch
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in store_dir.iterdir():
        if old.is_dir() and old.name.startswith(("gen-", ".tmp-gen-")) and old != final:
            shutil.rmtree(old, ignore_errors=True)


@dataclass
class Store:
    """A loaded generation: documents, chunks, vectors and the two indexes."""

    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray
    sentence_offsets: list[int]  # index of each chunk's first sentence in sentence_vectors
    faiss_index: object
    bm25: object

    @classmethod
    def load(cls, store_dir: Path) -> Store:
        import faiss

        from ncpi_qa.qa.retrieve import load_bm25

        gen = current_generation(store_dir)
        if gen is None:
            raise NoIndexError(store_dir)
        manifest = json.loads((gen / "manifest.json").read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexIncompatibleError(store_dir, "it was built by another version")
        with open(gen / "documents.jsonl", encoding="utf-8") as f:
            docs = [Document.from_dict(json.loads(line)) for line in f]
        with open(gen / "chunks.jsonl", encoding="utf-8") as f:
            chunks = [Chunk.from_dict(json.loads(line)) for line in f]
        offsets, n = [], 0
        for c in chunks:
            offsets.append(n)
            n += len(c.sentences)
        return cls(
            path=gen,
            manifest=manifest,
            documents={d.doc_id: d for d in docs},
            chunks=chunks,
            chunk_vectors=np.load(gen / "chunk_vectors.npy", mmap_mode="r"),
            sentence_vectors=np.load(gen / "sentence_vectors.npy", mmap_mode="r"),
            sentence_offsets=offsets,
            faiss_index=faiss.read_index(str(gen / "faiss.index")),
            bm25=load_bm25(gen / "bm25"),
        )
