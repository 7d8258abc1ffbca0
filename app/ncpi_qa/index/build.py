"""The build's stages, each a small function over one ``BuildPlan`` (index/plan.py):

    load   the scanned files read into documents (a file that cannot be read is skipped)
    chunk  each document cut as the index cuts it, with where its vectors are cached
    embed  cached vectors reused; the rest embedded in one pass and cached
    write  a new generation written through the backend with its ``Manifest``, then switched

``run`` chains them; index/store.py's ``build_index`` decides whether to run at all and holds
the writer's lock around it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from ncpi_qa.errors import EmptyCorpusError, LoadError
from ncpi_qa.index.backend import Backend
from ncpi_qa.index.generations import (
    FORMAT_VERSION,
    BuildReport,
    encode_pooled_with_eta,
    encode_with_eta,
)
from ncpi_qa.index.manifest import Manifest, ManifestDocument
from ncpi_qa.index.plan import (
    BuildPlan,
    DocumentPart,
    chunk_for_index,
    embed_texts,
    file_fingerprints,
    limits_config,
    sentence_spans,
)
from ncpi_qa.index.progress import Tracker, indexed_time, utc_now
from ncpi_qa.ingest.documents import Document, load_document


def load(plan: BuildPlan, track: Tracker, report: BuildReport) -> list[Document]:
    """Every scanned file read as a document; the ones that cannot be are in report.skipped."""
    docs: list[Document] = []
    limits = plan.limits
    track(docs_total=len(plan.scan))
    for entry in plan.scan:
        try:
            if entry.data is None:
                raise LoadError(entry.skip_reason or "cannot read file")
            docs.append(load_document(entry.path, entry.doc_id, entry.data, limits))
            track.read(docs[-1])
        except LoadError as e:
            name = str(entry.path.relative_to(plan.settings.corpus_dir))
            report.skipped.append((name, str(e)))
            plan.log(f"warning: skipping {name}: {e}")
            track.read()
    if not docs:
        raise EmptyCorpusError(plan.settings.corpus_dir, report.skipped)
    ids = [d.doc_id for d in docs]
    if len(set(ids)) != len(ids):  # assign_ids makes this impossible; never index a clash
        raise RuntimeError(f"duplicate document ids: {sorted(i for i in ids if ids.count(i) > 1)}")
    return docs


def chunk(plan: BuildPlan, docs: list[Document], track: Tracker) -> list[DocumentPart]:
    parts = []
    for doc in docs:
        chunks = chunk_for_index(doc, plan.settings)
        track(chunks=track.state.chunks + len(chunks))
        parts.append(DocumentPart(doc, chunks, plan.cache_file(doc)))
    return parts


def embed(plan: BuildPlan, parts: list[DocumentPart], embedder, track, report: BuildReport):
    """Fill each part's vectors: from its cache file (unless ``plan.rebuild``), else embedded
    (all such documents in one pass) and cached. Returns the embedder (made here if needed)."""
    plan.cache_dir.mkdir(parents=True, exist_ok=True)
    pending = []
    for part in parts:
        if part.cache_file.exists() and not plan.rebuild:
            with np.load(part.cache_file) as z:
                part.chunk_vecs, part.sent_vecs = z["chunks"], z["sentences"]
            part.indexed_at = indexed_time(plan.previous, part.doc, part.cache_file)
            report.reused.append(part.doc.doc_id)
        else:
            pending.append(part)
    if not pending:
        return embedder
    embedder = embedder or _embedder(plan)
    vecs, report.texts_embedded = _embed_pending(plan, embedder, pending, track)
    for part, (chunk_vecs, sent_vecs) in zip(pending, vecs, strict=True):
        part.chunk_vecs, part.sent_vecs = chunk_vecs, sent_vecs
        _cache(part)
        part.indexed_at = utc_now()
        report.embedded.append(part.doc.doc_id)
    return embedder


def _embedder(plan: BuildPlan):
    from ncpi_qa.index.embedding import get_embedder  # loads the model: only when embedding

    s = plan.settings
    return get_embedder(s.embedding_model, s.embed_batch_size, lean=s.sentence_vectors == "pooled")


def _cache(part: DocumentPart) -> None:
    tmp = part.cache_file.with_suffix(".tmp.npz")
    try:
        np.savez(tmp, chunks=part.chunk_vecs, sentences=part.sent_vecs)
        os.replace(tmp, part.cache_file)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _embed_pending(plan: BuildPlan, embedder, pending: list[DocumentPart], track):
    """Vectors for the documents to embed: per document (chunk vectors, sentence vectors),
    and how many texts went through the model. Pooled: one pass per chunk (sentences pooled
    from it, index/pooling.py), where the embedder can; else every sentence on its own too."""
    report = track.embedded if track.callback else plan.progress
    if plan.settings.sentence_vectors == "pooled" and hasattr(embedder, "encode_pooled"):
        texts = [c.embed_text() for p in pending for c in p.chunks]
        spans = [sentence_spans(c) for p in pending for c in p.chunks]
        plan.log(
            f"Embedding {len(texts)} chunks ({len(pending)} document(s)) with {embedder.name}..."
        )
        track(stage="embedding", texts_total=len(texts))
        chunk_vecs, sent_vecs = encode_pooled_with_eta(embedder, texts, spans, report, plan.log)
        out, a, b = [], 0, 0
        for p in pending:
            n_sents = sum(len(c.sentences) for c in p.chunks)
            out.append((chunk_vecs[a : a + len(p.chunks)], sent_vecs[b : b + n_sents]))
            a, b = a + len(p.chunks), b + n_sents
        return out, len(texts)
    texts, bounds = [], []
    for p in pending:
        chunk_texts, sentence_texts = embed_texts(p.doc, p.chunks)
        a, b = len(texts), len(texts) + len(chunk_texts)
        texts += chunk_texts + sentence_texts
        bounds.append((a, b, len(texts)))
    plan.log(f"Embedding {len(texts)} texts ({len(pending)} document(s)) with {embedder.name}...")
    track(stage="embedding", texts_total=len(texts))
    vecs = encode_with_eta(embedder, texts, report, plan.log)
    return [(vecs[a:b], vecs[b:c]) for a, b, c in bounds], len(texts)


def manifest_for(plan: BuildPlan, parts: list[DocumentPart], skipped, dim: int) -> Manifest:
    """The new generation's manifest: the plan's fingerprints and each document's row."""
    s = plan.settings
    return Manifest(
        format_version=FORMAT_VERSION,
        model=plan.model_name,
        dim=dim,
        chunking=plan.chunking,
        files=file_fingerprints(plan.scan, s.corpus_dir),
        limits=limits_config(s),
        documents=[
            ManifestDocument(
                doc_id=p.doc.doc_id,
                title=p.doc.title,
                source=p.doc.source,
                kind=p.doc.kind,
                sha256=p.doc.sha256,
                n_chunks=len(p.chunks),
                chars=len(p.doc.text),
                indexed_at=p.indexed_at,
            )
            for p in parts
        ],
        skipped=list(skipped),
        n_chunks=sum(len(p.chunks) for p in parts),
        n_sentences=sum(len(p.sent_vecs) for p in parts),
        built_at=utc_now(),
    )


def write(plan, backend: Backend, parts, report, embedder, checkpoint) -> Manifest:
    """The generation written through the backend and switched to; stale cache files go."""
    writer = backend.begin()
    for p in parts:
        writer.put_document(p.doc, p.chunks, p.chunk_vecs, p.sent_vecs)
    dim = embedder.dim if embedder is not None else int(parts[0].chunk_vecs.shape[1])
    manifest = manifest_for(plan, parts, report.skipped, dim)
    writer.commit(manifest, checkpoint)
    used = {p.cache_file.name for p in parts}
    for stale in plan.cache_dir.glob("*.npz"):
        if stale.name not in used:
            stale.unlink(missing_ok=True)
    return manifest


def run(
    plan: BuildPlan, backend: Backend, embedder, checkpoint: Callable[[str], None], t0: float
) -> BuildReport:
    """load -> chunk -> embed -> write; the report says what each stage did."""
    report = BuildReport()
    track = Tracker(plan.progress)
    parts = chunk(plan, load(plan, track, report), track)
    embedder = embed(plan, parts, embedder, track, report)
    track(stage="writing")
    manifest = write(plan, backend, parts, report, embedder, checkpoint)
    previous = {d.doc_id for d in plan.previous.documents} if plan.previous else set()
    report.indexed = [d.doc_id for d in manifest.documents]
    report.removed = sorted(previous - set(report.indexed))
    report.n_chunks, report.n_sentences = manifest.n_chunks, manifest.n_sentences
    report.seconds = time.perf_counter() - t0
    return report
