"""Hybrid retrieval: dense and BM25 candidates from the index (whatever its backend: see
index/backend.py), fused by a weighted sum fitted on SQuAD train (reciprocal rank fusion stays
as a mode to compare against). Nothing here builds, writes or loads index files."""

from __future__ import annotations

import numpy as np

from ncpi_qa.index.precision import threads
from ncpi_qa.schema import Passage


def rrf(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: score(d) = sum over rankings of 1 / (k + rank), rank from 1."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


MODES = ("bm25", "dense", "hybrid", "rrf")


def fuse_linear(
    dense: dict[int, float], bm25: dict[int, float], dense_weight: float
) -> list[tuple[int, float]]:
    """score = w * cosine + (1 - w) * BM25 / (best BM25 of the question): both in 0..1, so
    one fitted weight (tools/train, on the SQuAD train file) balances them."""
    top = max(bm25.values(), default=0.0) or 1.0
    ids = set(dense) | set(bm25)
    scores = {
        i: dense_weight * dense.get(i, 0.0) + (1 - dense_weight) * bm25.get(i, 0.0) / top
        for i in ids
    }
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def _ordered(hits: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Best first, equal scores by chunk index: the same order whichever backend found them."""
    return sorted(hits, key=lambda h: (-h[1], h[0]))


class Retriever:
    """Dense and BM25 candidates, fused; the question is embedded once by the caller."""

    def __init__(
        self,
        store,
        embedder,
        candidate_k: int = 30,
        rrf_k: int = 60,
        dense_weight: float = 0.5,
        threads: int | None = 1,
    ) -> None:
        self.threads = (
            threads  # settings.ask_threads: a question on one thread (index/precision.py)
        )
        self.store = store
        self.embedder = embedder
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.dense_weight = dense_weight

    def embed_query(self, question: str) -> np.ndarray:
        with threads(self.threads):
            return self.embedder.encode([question])[0]

    def dense(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        return _ordered(self.store.dense_search(qvec, min(n, len(self.store.chunks))))

    def lexical(self, question: str, n: int) -> list[tuple[int, float]]:
        return _ordered(self.store.bm25_search(question, min(n, len(self.store.chunks))))

    def search(
        self, question: str, qvec: np.ndarray, k: int, mode: str = "hybrid"
    ) -> list[Passage]:
        return self.retrieve(question, qvec, k, mode)[0]

    def retrieve(
        self, question: str, qvec: np.ndarray, k: int, mode: str = "hybrid"
    ) -> tuple[list[Passage], dict[str, list[int]]]:
        """The top ``k`` passages of ``mode``, and the chunk rankings of every mode that the
        same dense and BM25 candidates give (for the eval's retrieval figures)."""
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; choose one of {MODES}")
        n = max(self.candidate_k, k)
        dense = self.dense(qvec, n) if mode != "bm25" else []
        lexical = self.lexical(question, n) if mode != "dense" else []
        d_rank = {i: (r, s) for r, (i, s) in enumerate(dense, start=1)}
        b_rank = {i: (r, s) for r, (i, s) in enumerate(lexical, start=1)}
        rankings = {"dense": [i for i, _ in dense], "bm25": [i for i, _ in lexical]}
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            by_rrf = rrf([rankings["dense"], rankings["bm25"]], self.rrf_k)
            linear = fuse_linear(dict(dense), dict(lexical), self.dense_weight)
            rankings["rrf"] = [i for i, _ in by_rrf]
            rankings["hybrid"] = [i for i, _ in linear]
            fused = by_rrf if mode == "rrf" else linear
        top = fused[:k]
        cos = self.store.chunk_vectors_for([i for i, _ in top]) @ qvec if top else []
        out = []
        for (i, score), sim in zip(top, cos, strict=True):
            c = self.store.chunks[i]
            out.append(
                Passage(
                    chunk_index=i,
                    chunk=c,
                    score=float(score),
                    dense=float(sim),
                    bm25=b_rank[i][1] if i in b_rank else None,
                    dense_rank=d_rank[i][0] if i in d_rank else None,
                    bm25_rank=b_rank[i][0] if i in b_rank else None,
                )
            )
        return out, rankings
