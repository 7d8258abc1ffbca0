"""The benchmark's settings comparisons (issue 27), each a child phase of bench.py:

- ``pooled``: the same corpus indexed again with ``sentence_vectors="pooled"`` (each chunk read
  once by the model, its sentences' vectors pooled from that pass) into a store of its own,
  after the ``build`` phase indexed it with separately encoded sentences: index seconds,
  chunks/s and texts through the model of each, and their ratio;
- ``reader``: the reader's fp32 and int8 forward passes over 12 candidates per question,
  alternately in one process (bench_reader.py).
"""

from __future__ import annotations

import time


class TimedPooling:
    """Adds up the seconds spent in the embedder's ``encode`` and ``encode_pooled``."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim, self.seconds = inner, inner.name, inner.dim, 0.0

    def _timed(self, fn, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds += time.perf_counter() - t

    def encode(self, texts, progress: bool = False):
        return self._timed(self.inner.encode, texts)

    def encode_pooled(self, texts, spans):
        return self._timed(self.inner.encode_pooled, texts, spans)


def phase_pooled(p: dict) -> dict:
    """Index ``p["corpus"]`` with pooled sentence vectors into ``p["store"]``-pooled, with the
    embedder build_index picks for that setting (the lean encoder), loaded before the clock."""
    from bench_measure import Meter, rate

    from ncpi_qa.index.embedding import get_embedder
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=p["corpus"], store_dir=p["store"] + "-pooled",
                        sentence_vectors="pooled")  # fmt: skip
    emb = TimedPooling(get_embedder(lean=True))
    with Meter() as m:
        rep = build_index(settings, embedder=emb, log=lambda msg: None)
    return {
        "sentence_vectors": "pooled", "embedder": type(emb.inner).__name__,
        "chunks": rep.n_chunks, "sentences": rep.n_sentences,
        "texts_embedded": rep.texts_embedded, "index_s": round(m.wall, 2),
        "index_chunks_per_s": rate(rep.n_chunks, m.wall),
        "encode_in_index_s": round(emb.seconds, 2),
        "cpu_pressure": m.pressure, "peak_rss_index_mb": m.peak_mb,
    }  # fmt: skip


def phase_reader(p: dict) -> dict:
    """fp32 against int8 reader on the dev questions, 12 shipped-corpus candidates each."""
    from bench_reader import corpus_items, measure

    from ncpi_qa.settings import project_root

    questions = [r["question"] for r in p["dev"]] or list(p["questions"])
    n = int(p.get("reader_questions") or 40)
    return measure(questions[:n], corpus_items(project_root() / "corpus"), candidates=12)
