"""Hybrid retrieval: dense (FAISS) and BM25 (bm25s), fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

HNSW_M = 32
HNSW_EF_SEARCH = 512  # recall@10 0.93 at 512 vs 0.79 at 128 on 200k stand-in vectors


def build_faiss(vectors: np.ndarray, path: Path, exact_max: int) -> str:
    """Exact inner-product index up to ``exact_max`` vectors, HNSW above; returns the kind."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= exact_max:
        index, kind = faiss.IndexFlatIP(dim), "flat-ip"
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 200
        kind = "hnsw"
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    faiss.write_index(index, str(path))
    return kind


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(
        texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
    )


def build_bm25(texts: list[str], path: Path) -> None:
    import bm25s

    index = bm25s.BM25()
    index.index(bm25_tokens(texts), show_progress=False)
    index.save(str(path), show_progress=False)


def load_bm25(path: Path):
    import bm25s

    return bm25s.BM25.load(str(path), show_progress=False)


def rrf(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass
class Hit:
    index: int  # position in store.chunks
    score: float  # the score of the mode that ranked it (RRF for hybrid)
    dense: float | None = None  # cosine similarity to the question
    bm25: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None


class Retriever:
    def __init__(self, store, embedder, candidate_k: int = 30, rrf_k: int = 60) -> None:
        self.store = store
        self.embedder = embedder
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        if hasattr(store.faiss_index, "hnsw"):
            store.faiss_index.hnsw.efSearch = max(HNSW_EF_SEARCH, candidate_k)

    def embed_query(self, question: str) -> np.ndarray:
        return self.embedder.encode([question])[0]

    def dense(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        n = min(n, len(self.store.chunks))
        scores, ids = self.store.faiss_index.search(qvec[None, :].astype(np.float32), n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def lexical(self, question: str, n: int) -> list[tuple[int, float]]:
        n = min(n, len(self.store.chunks))
        q = bm25_tokens([question])
        vocab = self.store.bm25.vocab_dict
        q = [[t for t in q[0] if t in vocab]]
        if not q[0]:
            return []
        ids, scores = self.store.bm25.retrieve(q, k=n, show_progress=False, n_threads=0)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]

    def search(
        self, question: str, k: int, mode: str = "hybrid", qvec: np.ndarray | None = None
    ) -> list[Hit]:
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"unknown retrieval mode {mode!r}")
        n = max(self.candidate_k, k)
        dense = []
        if mode in ("hybrid", "dense"):
            qvec = self.embed_query(question) if qvec is None else qvec
            dense = self.dense(qvec, n)
        lexical = self.lexical(question, n) if mode in ("hybrid", "bm25") else []
        d_rank = {i: (r, s) for r, (i, s) in enumerate(dense, start=1)}
        b_rank = {i: (r, s) for r, (i, s) in enumerate(lexical, start=1)}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            fused = rrf([[i for i, _ in dense], [i for i, _ in lexical]], self.rrf_k)
        hits = []
        for i, score in fused[:k]:
            hits.append(
                Hit(
                    index=i,
                    score=score,
                    dense=d_rank[i][1] if i in d_rank else None,
                    bm25=b_rank[i][1] if i in b_rank else None,
                    dense_rank=d_rank[i][0] if i in d_rank else None,
                    bm25_rank=b_rank[i][0] if i in b_rank else None,
                )
            )
        return hits
