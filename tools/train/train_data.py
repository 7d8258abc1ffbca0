"""Training data from SQuAD 2.0: each part's articles indexed together, each question
retrieved and featurised exactly as `ncpi-qa ask` does, each candidate sentence labelled."""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ncpi_qa.evals import squad
from ncpi_qa.evals.metrics import locate_support, overlaps
from ncpi_qa.ingest.text import normalize

TOP_K = 5


def log(msg: str) -> None:
    print(f"[train {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def part_data(name, articles, settings, embedder, work: Path, oos=()):
    """Store, questions, their vectors, and the dense and BM25 candidates of each question;
    ``oos``: articles left out of the index whose questions are asked as out of scope."""
    s = squad.build_store(articles, work / name, settings, embedder, log=log)
    return part_from(name, s, squad.to_rows(articles, oos=list(oos)), embedder, work)


def domain_part(name, folder: Path, settings, embedder, work: Path):
    """The policy-prose set (evals/domain.py): its pages indexed with the seed page, every
    question (both parts: ``Item.group`` is the page, so callers split by page)."""
    from ncpi_qa.evals import domain

    s = domain.build_store(
        folder, work / name, settings, domain.seed_pages(settings), embedder, log=log
    )
    return part_from(name, s, domain.load_rows(folder), embedder, work)


def part_from(name, settings, rows, embedder, work: Path):
    """A part's store, questions, their vectors and their dense and BM25 candidates."""
    from ncpi_qa.index.files_store import Store
    from ncpi_qa.qa.retrieve import Retriever

    store = Store.load(settings.store_dir)
    qvecs = _question_vectors([r.question for r in rows], embedder, work / name)
    retriever = Retriever(store, embedder, settings.candidate_k)
    cands = [
        (dict(retriever.dense(v, settings.candidate_k)), dict(retriever.lexical(r.question, 30)))
        for r, v in zip(rows, qvecs, strict=True)
    ]
    spans = [locate_support(r.support, store.documents) for r in rows]
    log(
        f"{name}: {len(store.documents)} documents, {len(store.chunks)} chunks, "
        f"{len(rows)} questions"
    )
    return {"store": store, "rows": rows, "qvecs": qvecs, "cands": cands, "spans": spans}


def _question_vectors(questions: list[str], embedder, folder: Path) -> np.ndarray:
    """Question vectors, cached beside the part's store (keyed by the questions and model)."""
    key = hashlib.sha1("\n".join([embedder.name, *questions]).encode()).hexdigest()[:16]
    cache = folder / f"questions-{key}.npy"
    if cache.exists():
        return np.load(cache)
    vecs = np.asarray(embedder.encode(questions), dtype=np.float32)
    np.save(cache, vecs)
    return vecs


def hit1(part, w: float | None) -> float:
    """Share of answerable questions whose top fused chunk overlaps the support."""
    from ncpi_qa.qa.retrieve import fuse_linear, rrf

    hits = n = 0
    for (dense, bm25), sp in zip(part["cands"], part["spans"], strict=True):
        if not sp:
            continue
        if w is None:
            fused = rrf([list(dense), list(bm25)])
        else:
            fused = fuse_linear(dense, bm25, w)
        n += 1
        if fused:
            c = part["store"].chunks[fused[0][0]]
            hits += any(c.doc_id == d and overlaps((c.start, c.end), (s, e)) for d, s, e in sp)
    return hits / max(n, 1)


class Item(NamedTuple):
    x: np.ndarray  # candidate features
    y: np.ndarray  # 1 for sentences that hold the answer
    unanswerable: bool
    question: str
    texts: list[str]  # the candidate sentences
    z: np.ndarray  # 1 for sentences in the support's passage (what citation precision counts)
    headings: list[str] = []  # the section each candidate sits under (what the reader sees)
    kind: str = ""  # answerable | unanswerable | oos
    group: str = ""  # the article (or page) the question was written on
    previous: list[str] = []  # the sentence before each candidate (what the reader sees too)


def featurize(part, dense_weight: float):
    """Per question: its feature matrix, the multi-hot of sentences that hold the answer
    (a gold answer's text, in the support's passage), and whether it is unanswerable."""
    from ncpi_qa.qa.answer import Answerer, previous_sentence
    from ncpi_qa.qa.features import FEATURES
    from ncpi_qa.qa.model import MLP, AnswerModel
    from ncpi_qa.qa.question import analyse
    from ncpi_qa.qa.retrieve import Retriever

    store = part["store"]
    answerer = Answerer(store, AnswerModel(MLP(FEATURES, 0, 1, []), 0.0, 0.5, 0.0))
    retriever = Retriever(store, None, 30, dense_weight=dense_weight)
    out = []
    for row, v, sp in zip(part["rows"], part["qvecs"], part["spans"], strict=True):
        passages = retriever.search(row.question, v, TOP_K)
        x, where = answerer.features(analyse(row.question), v, passages)
        golds = [normalize(a) for a in row.answers]
        y = np.zeros(len(where), dtype=np.float32)
        z = np.zeros(len(where), dtype=np.float32)
        texts, heads, prevs = [], [], []
        for n, (pi, j) in enumerate(where):
            p = passages[pi]
            s, e = store.chunks[p.chunk_index].sentences[j]
            texts.append(store.documents[p.doc_id].text[s:e])
            heads.append(store.chunks[p.chunk_index].section)
            prevs.append(previous_sentence(store, p.chunk_index, j))
            if row.unanswerable or not any(
                p.doc_id == d and overlaps((p.start, p.end), (s, e)) for d, s, e in sp
            ):
                continue
            z[n] = 1.0
            y[n] = float(any(g in normalize(texts[-1]) for g in golds))
        out.append(
            Item(x, y, row.unanswerable, row.question, texts, z, heads, row.kind, row.group, prevs)
        )
    return out
