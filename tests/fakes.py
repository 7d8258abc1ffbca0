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


def held_build(stage: str, marker, embed_share: float = 0.5):
    """For a build in a child process (the fault-injection tests): the hashing embedder in
    place of the model, and the build held at ``stage`` — "embedding" (after embedding a
    share of its texts) or a ``build_index`` checkpoint step ("locked", "written",
    "switched") — writing ``stage`` to ``marker`` and sleeping there until it is killed.
    Returns the ``hang`` function, for a test that holds the build somewhere else."""
    import time

    import ncpi_qa.index.build as build
    import ncpi_qa.index.embedding as emb
    import ncpi_qa.index.store as store

    emb.get_embedder = lambda *a, **k: HashingEmbedder()

    def hang():
        marker.write_text(stage)
        time.sleep(600)

    if stage == "embedding":

        def encode(embedder, texts, progress, log):
            embedder.encode(texts[: max(1, int(len(texts) * embed_share))])
            hang()

        build.encode_with_eta = encode
    else:

        def checkpoint(step):
            if step == stage:
                hang()

        real_build = store.build_index
        store.build_index = lambda *a, **k: real_build(*a, checkpoint=checkpoint, **k)
    return hang


def manifest_of(*documents: dict, skipped=(), built_at: str = "2026-01-01T00:00:00Z"):
    """A typed ``Manifest`` holding ``documents`` (each a dict of the ``ManifestDocument``
    fields it cares about; the rest filled in), for rendering tests without a build."""
    from ncpi_qa.index.manifest import Manifest, ManifestDocument

    blank = {"title": "", "source": "", "kind": "txt", "sha256": "", "n_chunks": 1, "chars": 0,
             "indexed_at": built_at}  # fmt: skip
    docs = [ManifestDocument(**{**blank, **d}) for d in documents]
    return Manifest(
        format_version=0, model="test", dim=0, chunking={}, files={}, limits={},
        documents=docs, skipped=list(skipped), n_chunks=sum(d.n_chunks for d in docs),
        n_sentences=0, built_at=built_at,
    )  # fmt: skip
