"""One forward pass, two granularities: a chunk's vector and its sentences' vectors.

The model reads each chunk once. The chunk's vector is the mean of its last-layer token
states (as sentence-transformers pools it); each sentence's vector is the mean of the states
of the tokens that overlap the sentence's characters, L2-normalised. A sentence whose tokens
were cut off by the model's window (none are when the chunker respects ``chunk_max_tokens``)
is encoded on its own instead.

``encode_pooled`` is shared by the embedders (index/embedding.py): each brings a
``token_states(texts)`` that yields, per batch, the texts' indices, their pooled vectors, and
per text its token states and each token's character offsets (None for [CLS]/[SEP]/[PAD]).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

Span = tuple[int, int]
Offsets = Sequence[Span | None]
# (indices into texts, their vectors [n, d], per text: states [t, d] and token offsets)
Batch = tuple[list[int], np.ndarray, list[tuple[np.ndarray, Offsets]]]


def span_weights(offsets: Offsets, spans: Sequence[Span]) -> np.ndarray:
    """[len(spans), len(offsets)]: 1 where the token overlaps the span's characters."""
    w = np.zeros((len(spans), len(offsets)), dtype=np.float32)
    for j, o in enumerate(offsets):
        if o is None or o[1] <= o[0]:
            continue
        for k, (a, b) in enumerate(spans):
            if o[0] < b and o[1] > a:
                w[k, j] = 1.0
    return w


def pool_spans(states: np.ndarray, offsets: Offsets, spans: Sequence[Span]) -> np.ndarray:
    """The normalised mean token state of each span; a row of zeros where no token overlaps."""
    w = span_weights(offsets, spans)
    n = w.sum(1, keepdims=True)
    v = (w @ states[: w.shape[1]]) / np.maximum(n, 1.0)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.where(n > 0, v / np.maximum(norm, 1e-12), 0.0).astype(np.float32)


def encode_pooled(
    token_states: Callable[[list[str]], Iterable[Batch]],
    encode: Callable[[list[str]], np.ndarray],
    texts: list[str],
    spans: list[list[Span]],
    dim: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(one vector per text, one vector per span of every text, in order)."""
    if len(spans) != len(texts):
        raise ValueError("one list of spans per text")
    starts = np.cumsum([0] + [len(s) for s in spans])
    text_vecs = np.zeros((len(texts), dim), dtype=np.float32)
    span_vecs = np.zeros((int(starts[-1]), dim), dtype=np.float32)
    if not texts:
        return text_vecs, span_vecs
    for idx, vecs, per_text in token_states(texts):
        text_vecs[idx] = vecs
        for i, (states, offsets) in zip(idx, per_text, strict=True):
            if spans[i]:
                span_vecs[starts[i] : starts[i + 1]] = pool_spans(states, offsets, spans[i])
    missing = [
        (int(starts[i]) + k, texts[i][a:b])
        for i in range(len(texts))
        for k, (a, b) in enumerate(spans[i])
        if not span_vecs[starts[i] + k].any()
    ]
    if missing:  # cut off by the window (or empty): encoded on their own
        span_vecs[[r for r, _ in missing]] = encode([t for _, t in missing])
    return text_vecs, span_vecs
