"""Build the index: scan the corpus, read and chunk what changed, embed what is not cached,
and write a whole new generation through the configured backend (index/backend.py: FAISS +
bm25s files by default, or Milvus), which switches readers to it atomically.

    <store>/cache/<key>.npz   per-document vectors, keyed by content hash + model + chunking

A build takes the backend's writer lock (a second build waits, up to
``index_lock_timeout`` seconds), clears what killed builds left, writes, then switches; a
crash or Ctrl-C before the switch leaves the previous generation live. Unchanged documents
reuse cached vectors (the cache stays on the writer's disk whatever the backend).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ncpi_qa.errors import (
    CorpusNotFoundError,
    EmptyCorpusError,
    IndexBusyError,
    StoreWriteError,
)
from ncpi_qa.index.backend import Backend, get_backend
from ncpi_qa.index.embedding import model_token_counter
from ncpi_qa.index.files_store import Store  # noqa: F401 - the files backend's reader
from ncpi_qa.index.generations import (  # noqa: F401 - current_generation etc. re-exported
    FORMAT_VERSION,
    BuildReport,
    clean_leftovers,
    current_generation,
    encode_pooled_with_eta,
    encode_with_eta,
    read_manifest,
    store_lock,
)
from ncpi_qa.index.progress import Tracker, indexed_time, utc_now
from ncpi_qa.ingest.chunking import CHUNKER_VERSION, Chunk, chunk_document
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

logger = logging.getLogger(__name__)


def chunking_config(settings: Settings) -> dict:
    return {
        "chunker_version": CHUNKER_VERSION,
        "max_chars": settings.chunk_max_chars,
        "max_tokens": settings.chunk_max_tokens,
        "tokenizer": model_token_counter(settings.embedding_model).name,
        # how sentence vectors are made (index/pooling.py): a change re-embeds everything
        "sentence_vectors": settings.sentence_vectors,
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


@dataclasses.dataclass(frozen=True)
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


def _scan(corpus_dir: Path, max_file_mb: float | None = None) -> list[ScanEntry]:
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


def is_up_to_date(
    settings: Settings, embedder_name: str, backend: Backend | None = None
) -> tuple[bool, dict | None, list[ScanEntry]]:
    """Cheap check (hashes only, no model, no parsing) of whether a rebuild would change nothing."""
    manifest = (backend or get_backend(settings)).read_manifest()
    scan = _scan(settings.corpus_dir, settings.max_file_mb)
    if not manifest:
        return False, None, scan
    files = {str(e.path.relative_to(settings.corpus_dir)): e.fingerprint for e in scan}
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


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Where each of the chunk's sentences lies in its ``embed_text()`` (title line, newline,
    then the chunk's text), for pooling them from the chunk's forward pass."""
    base = len(chunk.embed_head()) + 1 - chunk.start
    return [(base + s, base + e) for s, e in chunk.sentences]


def _embed_pending(settings, embedder, pending, track, progress, log):
    """Vectors for the documents to embed: per document (chunk vectors, sentence vectors),
    and how many texts went through the model. Pooled: one pass per chunk (sentences pooled
    from it, index/pooling.py), where the embedder can; else every sentence on its own too."""
    report = track.embedded if track.callback else progress
    if settings.sentence_vectors == "pooled" and hasattr(embedder, "encode_pooled"):
        texts = [c.embed_text() for _, chunks, _ in pending for c in chunks]
        spans = [sentence_spans(c) for _, chunks, _ in pending for c in chunks]
        log(f"Embedding {len(texts)} chunks ({len(pending)} document(s)) with {embedder.name}...")
        track(stage="embedding", texts_total=len(texts))
        chunk_vecs, sent_vecs = encode_pooled_with_eta(embedder, texts, spans, report, log)
        out, a, b = [], 0, 0
        for _, chunks, _ in pending:
            n_sents = sum(len(c.sentences) for c in chunks)
            out.append((chunk_vecs[a : a + len(chunks)], sent_vecs[b : b + n_sents]))
            a, b = a + len(chunks), b + n_sents
        return out, len(texts)
    texts, bounds = [], []
    for doc, chunks, _ in pending:
        chunk_texts, sentence_texts = embed_texts(doc, chunks)
        a, b = len(texts), len(texts) + len(chunk_texts)
        texts += chunk_texts
        texts += sentence_texts
        bounds.append((a, b, len(texts)))
    log(f"Embedding {len(texts)} texts ({len(pending)} document(s)) with {embedder.name}...")
    track(stage="embedding", texts_total=len(texts))
    vecs = encode_with_eta(embedder, texts, report, log)
    return [(vecs[a:b], vecs[b:c]) for a, b, c in bounds], len(texts)


def build_index(
    settings: Settings,
    embedder=None,
    rebuild: bool = False,
    progress=False,
    log=None,
    checkpoint: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index settings.corpus_dir into settings.store_dir. ``embedder`` is made lazily if needed.
    ``progress``: True for a terminal bar, or a callable given a ``BuildProgress`` (documents
    read, pages, chunks, texts embedded, ETA) as the build goes (index/progress.py).
    ``checkpoint``: called with "locked" (the writer lock taken), "written" (the generation
    complete, just before readers switch to it) and "switched" (just after), for a caller that
    must order builds or stop one at a known step (the fault-injection tests)."""
    checkpoint = checkpoint or (lambda stage: None)
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
    backend = get_backend(settings)
    seen = backend.live_generation()
    same, manifest, scan = is_up_to_date(settings, model_name, backend)
    if same and not rebuild:  # nothing to write: no lock needed, works on a read-only store
        try:  # tidy up if nobody is building
            with backend.writer_lock(0):
                backend.clean_leftovers()
        except (IndexBusyError, OSError) as e:  # a build is on, or the store is read-only
            logger.debug("left the store untidied: %s", e)
        return _up_to_date_report(manifest, t0)
    try:
        with backend.writer_lock(settings.index_lock_timeout, log):
            checkpoint("locked")
            backend.clean_leftovers()
            if backend.live_generation() != seen:  # another build finished meanwhile
                same, manifest, scan = is_up_to_date(settings, model_name, backend)
                if same and not rebuild:
                    return _up_to_date_report(manifest, t0)
            return _build(
                settings,
                embedder,
                rebuild,
                progress,
                log,
                t0,
                model_name,
                manifest,
                scan,
                backend,
                checkpoint,
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


def _build(
    settings, embedder, rebuild, progress, log, t0, model_name, manifest, scan, backend, checkpoint
):
    corpus_dir, store_dir = settings.corpus_dir, settings.store_dir
    report = BuildReport()
    docs: list[Document] = []
    limits = Limits.from_settings(settings)
    track = Tracker(progress)
    track(docs_total=len(scan))
    for entry in scan:
        try:
            if entry.data is None:
                raise LoadError(entry.skip_reason or "cannot read file")
            docs.append(load_document(entry.path, entry.doc_id, entry.data, limits))
            track.read(docs[-1])
        except LoadError as e:
            name = str(entry.path.relative_to(corpus_dir))
            report.skipped.append((name, str(e)))
            log(f"warning: skipping {name}: {e}")
            track.read()
    if not docs:
        raise EmptyCorpusError(corpus_dir, report.skipped)

    chunking = chunking_config(settings)
    key = _config_key(model_name, chunking)
    cache_dir = store_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    previous = {d["doc_id"] for d in manifest["documents"]} if manifest else set()

    used_cache: set[str] = set()
    pending: list[tuple[Document, list[Chunk], Path]] = []
    per_doc: dict[str, tuple[list[Chunk], np.ndarray | None, np.ndarray | None]] = {}
    indexed_at: dict[str, str] = {}  # doc id -> when its vectors were made
    ids = [d.doc_id for d in docs]
    if len(set(ids)) != len(ids):  # assign_ids makes this impossible; never index a clash
        raise RuntimeError(f"duplicate document ids: {sorted(i for i in ids if ids.count(i) > 1)}")
    for doc in docs:
        chunks = chunk_for_index(doc, settings)
        track(chunks=track.state.chunks + len(chunks))
        cache_file = cache_dir / f"{doc.sha256[:24]}-{key}.npz"
        used_cache.add(cache_file.name)
        if cache_file.exists() and not rebuild:
            with np.load(cache_file) as z:
                per_doc[doc.doc_id] = (chunks, z["chunks"], z["sentences"])
            report.reused.append(doc.doc_id)
            indexed_at[doc.doc_id] = indexed_time(manifest, doc, cache_file)
        else:
            per_doc[doc.doc_id] = (chunks, None, None)
            pending.append((doc, chunks, cache_file))

    if pending:
        if embedder is None:
            from ncpi_qa.index.embedding import get_embedder

            embedder = get_embedder(
                settings.embedding_model,
                settings.embed_batch_size,
                lean=settings.sentence_vectors == "pooled",
            )
        vecs, report.texts_embedded = _embed_pending(
            settings, embedder, pending, track, progress, log
        )
        for (doc, chunks, cache_file), (chunk_vecs, sent_vecs) in zip(pending, vecs, strict=True):
            per_doc[doc.doc_id] = (chunks, chunk_vecs, sent_vecs)
            tmp = cache_file.with_suffix(".tmp.npz")
            try:
                np.savez(tmp, chunks=chunk_vecs, sentences=sent_vecs)
                os.replace(tmp, cache_file)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            report.embedded.append(doc.doc_id)
            indexed_at[doc.doc_id] = utc_now()

    track(stage="writing")
    writer = backend.begin()
    for doc in docs:
        writer.put_document(doc, *per_doc[doc.doc_id])
    n_chunks = sum(len(per_doc[d.doc_id][0]) for d in docs)
    n_sentences = sum(len(per_doc[d.doc_id][2]) for d in docs)
    dim = embedder.dim if embedder is not None else int(per_doc[docs[0].doc_id][1].shape[1])

    files = {str(e.path.relative_to(corpus_dir)): e.fingerprint for e in scan}
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
                "indexed_at": indexed_at[d.doc_id],  # when this document's vectors were made
            }
            for d in docs
        ],
        "skipped": report.skipped,
        "n_chunks": n_chunks,
        "n_sentences": n_sentences,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    writer.commit(new_manifest, checkpoint)
    for stale in cache_dir.glob("*.npz"):
        if stale.name not in used_cache:
            stale.unlink(missing_ok=True)

    report.indexed = [d.doc_id for d in docs]
    report.removed = sorted(previous - set(report.indexed))
    report.n_chunks = n_chunks
    report.n_sentences = n_sentences
    report.seconds = time.perf_counter() - t0
    return report
