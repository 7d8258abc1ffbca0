"""The benchmark's peer: a plain llama-index pipeline on its defaults (VectorStoreIndex,
FaissVectorStore, HuggingFaceEmbedding of the same bundled model) over our chunks. Needs the
``bench`` extra (bench.py checks it before anything runs)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np


def phase_peer(p: dict) -> dict:
    """llama-index on defaults over our chunks: TextNodes (text = our chunk's embed text),
    VectorStoreIndex, FaissVectorStore over IndexFlatL2 (as its docs show), top-5 retriever."""
    import faiss
    from bench_measure import Meter, dev_hits, rate, shipped_only, status_mb, summarize

    from ncpi_qa.index.embedding import BUNDLED, model_path
    from ncpi_qa.index.generations import current_generation
    from ncpi_qa.ingest.chunking import Chunk
    from ncpi_qa.ingest.documents import Document

    t0 = time.perf_counter()
    from llama_index.core import Settings as LISettings
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    LISettings.llm = None  # no LLM: retrieval only
    embed = HuggingFaceEmbedding(model_name=str(model_path(BUNDLED)), device="cpu")
    out = {"import_and_load_s": round(time.perf_counter() - t0, 2), "faiss": "IndexFlatL2"}
    gen = current_generation(Path(p["store"]))
    with open(gen / "chunks.jsonl", encoding="utf-8") as f:
        chunks = [Chunk.from_dict(json.loads(line)) for line in f]
    vecs = np.load(gen / "chunk_vectors.npy", mmap_mode="r")

    def build(ids, embedded: bool):
        vec = (lambda i: vecs[i].tolist()) if embedded else (lambda i: None)
        nodes = [TextNode(id_=str(i), text=chunks[i].embed_text(), embedding=vec(i)) for i in ids]
        store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(vecs.shape[1]))
        ctx = StorageContext.from_defaults(vector_store=store)
        with Meter() as m:
            index = VectorStoreIndex(nodes, storage_context=ctx, embed_model=embed)
        return index, m

    sample, real, n = p.get("embed_sample"), p["vectors"] == "real", len(chunks)
    out["chunks"] = n
    if real and not sample:  # the peer embeds every chunk itself
        index, m = build(range(n), False)
        out.update(index_method="embedded every chunk", index_s=round(m.wall, 2))
    else:  # its embedding timed on a sample; the index built from vectors of the same texts
        ids = random.Random(0).sample(range(n), min(sample or 200, n))
        per_chunk = build(ids, False)[1].wall / len(ids)
        index, m = build(range(n), True)
        how = {"real": "our same-model", "pool": "our pool-mean"}.get(p["vectors"], "hash")
        out.update(index_method=f"embedding timed on {len(ids)} chunks; index built from "
                   f"{how} vectors of the same texts", insert_s=round(m.wall, 2),
                   embed_chunks_per_s=rate(1, per_chunk))  # fmt: skip
        if real:
            out["index_s"] = round(per_chunk * n + m.wall, 2)
    out["index_chunks_per_s"] = rate(n, out.get("index_s"))
    retriever = index.as_retriever(similarity_top_k=5)
    for q in p["questions"][:5]:
        retriever.retrieve(q)
    lat, spans = [], []
    for q in p["questions"]:
        t = time.perf_counter()
        found = [chunks[int(x.node.node_id)] for x in retriever.retrieve(q)]
        lat.append((time.perf_counter() - t) * 1000)
        spans.append([(c.doc_id, c.start, c.end) for c in found])
    out["query_ms"] = summarize(lat)
    if p["vectors"] != "hash":
        with open(gen / "documents.jsonl", encoding="utf-8") as f:
            docs = {d.doc_id: d for d in (Document.from_dict(json.loads(x)) for x in f)}
        hits = dev_hits(p["dev"], shipped_only(docs, p["sources"]), spans)
        out["dev_hit_at_5"] = round(float(np.mean(hits)), 3) if hits else None
    out["peak_rss_mb"] = status_mb("VmHWM")
    return out
