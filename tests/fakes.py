"""Test doubles, injected by the tests (the runtime package holds none)."""

from __future__ import annotations

import hashlib

import numpy as np


class HashingEmbedder:
    """Deterministic bag-of-words hashing embedder, for unit tests of logic only."""

    def __init__(self, dim: int = 64) -> None:
        self.name = f"test/hashing-{dim}"
        self.dim = dim
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        from ncpi_qa.ingest.text import tokens

        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for tok in tokens(t):
                h = int.from_bytes(hashlib.md5(tok.encode()).digest()[:4], "little")
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
        return out
