"""Embedders for ``ncpi-qa bench``: cheap stand-ins for the model at scale, and a timing
wrapper. Each has ``name``, ``dim`` and ``encode(texts, progress=False) -> float32 (n, dim)``,
as the index expects."""

from __future__ import annotations

import random
import re
import time

import numpy as np


class HashProjectionEmbedder:
    """Cheap stand-in for the model at scale: hashed bag of words, random projection to ``dim``,
    L2-normalised. Texts sharing words get similar vectors, so an ANN index sees clustered,
    text-like data (unlike uniform random vectors); it has no semantics beyond that."""

    def __init__(self, dim: int = 384, n_features: int = 2**15, seed: int = 0) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.name = f"bench/hash-projection-{dim}"
        self.dim = dim
        self.texts_encoded = 0
        self._hv = HashingVectorizer(
            n_features=n_features, alternate_sign=False, norm=None, dtype=np.float32
        )
        rng = np.random.default_rng(seed)
        self._proj = rng.standard_normal((n_features, dim), dtype=np.float32)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        step = 50_000
        for a in range(0, len(texts), step):
            x = self._hv.transform(texts[a : a + step])
            x.data = np.log1p(x.data)
            out[a : a + step] = x @ self._proj
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        self.texts_encoded += len(texts)
        return out


_PIECES = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z])")


class PoolEmbedder:
    """Stand-in for the model at scale that keeps the model's geometry. Every pool sentence
    was embedded once by the real model; a text's vector is the normalised mean of the vectors
    of the pool sentences it is made of (a chunk: its sentences). Sentence-like pieces not in
    the pool (the shipped documents') are embedded by the model and kept; headings are left
    out of the mean."""

    def __init__(self, texts: list[str], vectors: np.ndarray, model) -> None:
        self.name, self.dim = "bench/pool-mean-of-model-vectors", int(vectors.shape[1])
        self.index = {t: i for i, t in enumerate(texts)}
        self.matrix, self.model, self.model_encoded = vectors.astype(np.float32), model, 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from scipy.sparse import csr_matrix

        keys, missing = [], {}
        for t in texts:
            if t in self.index:
                keys.append((t,))
                continue
            pieces = [x.strip() for x in _PIECES.split(t)]
            pieces = [x for x in pieces if x in self.index or (x[-1:] in ".!?:" and " " in x)]
            keys.append(tuple(pieces) or (t,))
            missing.update((x, None) for x in keys[-1] if x not in self.index)
        if missing:
            new = list(missing)
            self.index.update((w, len(self.matrix) + i) for i, w in enumerate(new))
            self.matrix = np.vstack([self.matrix, self.model.encode(new).astype(np.float32)])
            self.model_encoded += len(new)
        rows = [i for i, k in enumerate(keys) for _ in k]
        cols = [self.index[x] for k in keys for x in k]
        ones = np.ones(len(rows), dtype=np.float32)
        out = csr_matrix((ones, (rows, cols)), shape=(len(texts), len(self.matrix))) @ self.matrix
        out = np.ascontiguousarray(out, dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent in ``encode``."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def encode(self, texts, progress: bool = False):
        t = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - t


def count_tokens(texts: list[str], sample: int = 20_000) -> tuple[int, bool]:
    """The model's WordPiece tokens (truncated at 256, as it encodes), estimated from a sample
    above ``sample`` texts. Returns (tokens, estimated)."""
    from tokenizers import Tokenizer

    from ncpi_qa.index.embedding import BUNDLED, model_path

    tok = Tokenizer.from_file(str(model_path(BUNDLED) / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.no_padding()
    part = texts if len(texts) <= sample else random.Random(0).sample(texts, sample)
    n = sum(len(e.ids) for e in tok.encode_batch(part))
    return (n, False) if part is texts else (round(n * len(texts) / len(part)), True)
