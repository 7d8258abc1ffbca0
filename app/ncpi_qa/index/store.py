"""The index on disk: build it (incrementally, atomically) and load it.

Layout under the store folder::

    CURRENT              name of the live generation (replaced atomically with os.replace)
    gen-<stamp>/         manifest.json, documents.jsonl, chunks.jsonl, chunk_vectors.npy,
                         sentence_vectors.npy, faiss.index, bm25/
    cache/<key>.npz      per-document vectors, keyed by content hash + model + chunking

    .build.lock          held (fcntl.flock) by the one build allowed to write at a time

A build takes the lock (a second build waits, up to ``index_lock_timeout`` seconds), clears
what crashed builds left (``.tmp-gen-*``, ``.CURRENT.*``, ``cache/*.tmp.npz``), writes a whole
new generation, then flips CURRENT; a crash or Ctrl-C before the flip leaves the previous
generation live. The generation CURRENT pointed to before the flip is kept one build longer,
so a reader that loaded it (memory-mapped vectors) keeps working; older ones are removed.
The OS releases the lock when a build dies, so a crash never leaves the store locked.
Unchanged documents reuse cached vectors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ncpi_qa.errors import (
    CorpusNotFoundError,
    EmptyCorpusError,
    IndexBusyError,
    IndexIncompatibleError,
    NoIndexError,
    StoreWriteError,
)
from ncpi_qa.index.generations import (
    BuildReport,
    clean_leftovers,
    current_generation,
    encode_with_eta,
    read_manifest,
    store_lock,
)
from ncpi_qa.ingest.chunking import (
    CHUNKER_VERSION,
    Chunk,
    chunk_document,
    model_token_counter,
)
from ncpi_qa.ingest.documents import (
    Document,
    LoadError,
    assign_ids,
    corpus_files,
    file_sha256,
    load_document,
    outside_corpus,
)
from ncpi_qa.ingest.limits import Limits, size_refusal
from ncpi_qa.settings import Settings

FORMAT_VERSION = 1


def chunking_config(settings: Settings) -> dict:
    return {
        "chunker_version": CHUNKER_VERSION,
        "max_chars": settings.chunk_max_chars,
        "max_tokens": settings.chunk_max_tokens,
        "tokenizer": model_token_counter(settings.embedding_model).name,
    }


def chunk_for_index(doc: Document, settings: Settings) -> list[Chunk]:
    """A document's chunks exactly as build_index makes them (size limits, the model's tokens)."""
    return chunk_document(
        doc,
        settings.chunk_max_chars,
        settings.chunk_max_tokens,
        model_token_counter(settings.embedding_model),
    )


def _config_key(model: str, chunking: dict) -> str:
    blob = json.dumps({"model": model, "chunking": chunking}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def build_checkpoint(stage: str, store_dir: Path) -> None:
    """A no-op called at fixed points of a build ("locked", "written" just before the CURRENT
    switch, "switched" just after it). Tests replace it to force interleavings of builds, or
    to kill a build there (tests/test_build_faults.py)."""


def _scan(
    corpus_dir: Path, max_file_mb: float | None = None
) -> list[tuple[Path, str, bytes | None, str | None]]:
    """(path, doc id, bytes, sha256) for every candidate file. Bytes are None when the file
    cannot be used; the sha256 field then holds the reason, prefixed by "skip:"."""
    files = corpus_files(corpus_dir)
    ids = assign_ids(files, corpus_dir)
    out = []
    for p in files:
        why = outside_corpus(p, corpus_dir)
        if why is not None:  # a symbolic link out of the corpus is never read
            out.append((p, ids[p], None, f"skip:{why}"))
            continue
        try:
            size = p.stat().st_size
            why = None if max_file_mb is None else size_refusal(size, max_file_mb)
            if why is not None:
                out.append((p, ids[p], None, f"skip:{why}"))
                continue
            data = p.read_bytes()
            out.append((p, ids[p], data, file_sha256(data)))
        except OSError as e:
            out.append((p, ids[p], None, f"skip:cannot read file ({e.strerror})"))
    return out


def is_up_to_date(settings: Settings, embedder_name: str) -> tuple[bool, dict | None, list]:
    """Cheap check (hashes only, no model, no parsing) of whether a rebuild would change nothing."""
    manifest = read_manifest(settings.store_dir)
    scan = _scan(settings.corpus_dir, settings.max_file_mb)
    if not manifest:
        return False, None, scan
    files = {str(p.relative_to(settings.corpus_dir)): sha for p, _, _, sha in scan}
    same = (
        manifest.get("format_version") == FORMAT_VERSION
        and manifest.get("model") == embedder_name
        and manifest.get("chunking") == chunking_config(settings)
        and manifest.get("files") == files
        and manifest.get("limits") == _limits_config(settings)
    )
    return same, manifest, scan


def _limits_config(settings: Settings) -> dict:
    """The content limits a build read its files under: a change re-reads the corpus (a file
    skipped for being over a limit is indexed once the limit is raised)."""
    return dataclasses.asdict(Limits.from_settings(settings))


def embed_texts(doc: Document, chunks: list[Chunk]) -> tuple[list[str], list[str]]:
    """What the index embeds for one document: each chunk's text, and each chunk's sentences."""
    return [c.embed_text() for c in chunks], [doc.text[s:e] for c in chunks for s, e in c.sentences]


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
    seen = current_generation(store_dir)
    same, manifest, scan = is_up_to_date(settings, model_name)
    if same and not rebuild:  # nothing to write: no lock needed, works on a read-only store
        with contextlib.suppress(IndexBusyError, OSError):  # tidy up if nobody is building
            with store_lock(store_dir, 0):
                clean_leftovers(store_dir)
        return _up_to_date_report(manifest, t0)
    try:
        with store_lock(store_dir, settings.index_lock_timeout, log):
            build_checkpoint("locked", store_dir)
            clean_leftovers(store_dir)
            if current_generation(store_dir) != seen:  # another build finished meanwhile
                same, manifest, scan = is_up_to_date(settings, model_name)
                if same and not rebuild:
                    return _up_to_date_report(manifest, t0)
            return _build(
                settings, embedder, rebuild, progress, log, t0, model_name, manifest, scan
            )
    except OSError as e:
        raise StoreWriteError(store_dir, e) from e


def _up_to_date_report(manifest: dict, t0: float) -> BuildReport:
    report = BuildReport(up_to_date=True)
    report.indexed = [d["doc_id"] for d in manifest["documents"]]
    report.n_chunks = manifest["n_chunks"]
    report.skipped = [tuple(s) for s in manifest.get("skipped", [])]
    report.seconds = time.perf_counter() - t0
    return report


def _build(settings, embedder, rebuild, progress, log, t0, model_name, manifest, scan):
    corpus_dir, store_dir = settings.corpus_dir, settings.store_dir
    report = BuildReport()
    docs: list[Document] = []
    limits = Limits.from_settings(settings)
    for path, doc_id, data, sha in scan:
        try:
            if data is None:
                raise LoadError((sha or "skip:cannot read file").removeprefix("skip:"))
            docs.append(load_document(path, doc_id, data, limits))
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
    ids = [d.doc_id for d in docs]
    if len(set(ids)) != len(ids):  # assign_ids makes this impossible; never index a clash
        raise RuntimeError(f"duplicate document ids: {sorted(i for i in ids if ids.count(i) > 1)}")
    for doc in docs:
        chunks = chunk_for_index(doc, settings)
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
            chunk_texts, sentence_texts = embed_texts(doc, chunks)
            a, b = len(texts), len(texts) + len(chunk_texts)
            texts += chunk_texts
            texts += sentence_texts
            bounds.append((a, b, len(texts)))
        log(f"Embedding {len(texts)} texts ({len(pending)} document(s)) with {embedder.name}...")
        vecs = encode_with_eta(embedder, texts, progress, log)
        report.texts_embedded = len(texts)
        for (doc, chunks, cache_file), (a, b, c) in zip(pending, bounds, strict=True):
            per_doc[doc.doc_id] = (chunks, vecs[a:b], vecs[b:c])
            tmp = cache_file.with_suffix(".tmp.npz")
            try:
                np.savez(tmp, chunks=vecs[a:b], sentences=vecs[b:c])
                os.replace(tmp, cache_file)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
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
        "limits": _limits_config(settings),
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
            faiss_kind = build_faiss(chunk_matrix, tmp / "faiss.index", settings.exact_search_max)
        except RuntimeError as e:  # FAISS reports a failed write (disk full) as RuntimeError
            raise OSError(errno.EIO, f"FAISS could not write its index ({e})".strip()) from e
        manifest["faiss"] = faiss_kind
        build_bm25([c.embed_text() for c in chunks], tmp / "bm25")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        os.replace(tmp, final)
        pointer.write_text(final.name + "\n")
        with open(pointer) as f:
            os.fsync(f.fileno())
        build_checkpoint("written", store_dir)
        os.replace(pointer, store_dir / "CURRENT")  # the atomic switch
        switched = True
    except BaseException:
        if not switched:  # CURRENT still names the previous generation: drop all of ours
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            pointer.unlink(missing_ok=True)
        raise
    build_checkpoint("switched", store_dir)
    keep = {final.name} | ({previous.name} if previous is not None else set())
    for old in store_dir.iterdir():
        if old.is_dir() and old.name.startswith("gen-") and old.name not in keep:
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

        from ncpi_qa.qa.retrieve import load_bm25

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
