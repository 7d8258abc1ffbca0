"""Features of each candidate sentence for the learned answerer (qa/model.py).

Every retrieved passage's sentences are candidates. A candidate's features say how close it
is to the question in meaning (MiniLM cosine, from vectors computed at index time), how much
of the question's IDF-weighted content it holds (in itself, with its neighbours, in its
passage), what the question names that it lacks, how its passage ranked, and whether it
holds the kind of thing asked for (a number for "how many", a year for "when", a name for
"who"). The weights that turn these into a score are fitted on SQuAD 2.0 (tools/train).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ncpi_qa.qa.question import KINDS, NEGATION, Profile, stem, terms

_YEAR = re.compile(r"\b(?:1\d{3}|20\d\d)s?\b")
_NUM = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand)\b")
_MONTH = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|century|decade)\b"
)
_QUANT = re.compile(r"[%$£€]|\bper ?cent\b|\bmillion\b|\bbillion\b|\bmiles?\b|\bkm\b", re.I)
_CAPS = re.compile(r"(?<!^)\b[A-Z][a-zA-Z]+")

FACTS = ("has_number", "has_year", "has_month", "has_quantity", "novel_name", "negated")
BASE = (
    "dense",
    "dense_chunk",
    "dense_margin",
    "dense_rank_inv",
    "chunk_rank_inv",
    "bm25_rel",
    "cov_sent",
    "cov_ctx",
    "cov_chunk",
    "cov_margin",
    "missing_max_idf",
    "missing_count",
    "bigram_share",
    "novel_share",
    "log_len",
    "negation_mismatch",
    "numbers_found",
    "names_found",
)
FEATURES = BASE + FACTS + tuple(f"kind_{k}" for k in KINDS)
# What stage 2 adds for the candidates the reader read (qa/answer.py stage2_features).
READ_FEATURES = ("s1", "s1_margin", "rd", "rd_margin", "rd_rank_inv", "rd_span", "rd_span_margin")
STAGE2_FEATURES = FEATURES + READ_FEATURES
GROUPS = {
    "dense": ("dense", "dense_chunk", "dense_margin", "dense_rank_inv"),
    "retrieval": ("chunk_rank_inv", "bm25_rel"),
    "lexical": (
        "cov_sent",
        "cov_ctx",
        "cov_chunk",
        "cov_margin",
        "missing_max_idf",
        "missing_count",
        "bigram_share",
        "novel_share",
        "numbers_found",
        "names_found",
    ),
    "answer_kind": FACTS + tuple(f"kind_{k}" for k in KINDS),
}


@dataclass
class SentenceInfo:
    terms: frozenset[str]
    facts: tuple[float, ...]
    n_words: int
    names: frozenset[str]  # stems of capitalised words that do not start the sentence


class TermStats:
    """IDF from the BM25 index's document frequencies, and a bounded cache of the terms of
    each chunk's sentences."""

    def __init__(self, store, cache_chunks: int = 4096) -> None:
        self.store = store
        self._df = store.document_frequencies()
        self._n = max(len(store.chunks), 1)
        self._cache: OrderedDict[int, tuple[list[SentenceInfo], frozenset[str]]] = OrderedDict()
        self._limit = cache_chunks

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def chunk(self, ci: int) -> tuple[list[SentenceInfo], frozenset[str]]:
        """The chunk's sentences' terms and facts, and its heading terms."""
        hit = self._cache.get(ci)
        if hit is not None:
            self._cache.move_to_end(ci)
            return hit
        c = self.store.chunks[ci]
        text = self.store.documents[c.doc_id].text
        infos = []
        for s, e in c.sentences:
            sent = text[s:e]
            ts = terms(sent)
            names = frozenset(stem(w.lower()) for w in _CAPS.findall(sent))
            infos.append(
                SentenceInfo(frozenset(ts), sentence_facts(sent), len(sent.split()), names)
            )
        head = frozenset(terms(f"{c.title} {c.section}"))
        self._cache[ci] = (infos, head)
        if len(self._cache) > self._limit:
            self._cache.popitem(last=False)
        return infos, head


def sentence_facts(sent: str) -> tuple[float, ...]:
    return (
        float(bool(_NUM.search(sent))),
        float(bool(_YEAR.search(sent))),
        float(bool(_MONTH.search(sent))),
        float(bool(_QUANT.search(sent))),
        0.0,  # novel_name: a name the question does not use; set per question
        float(bool(NEGATION.search(sent))),
    )


def _cov(weights: dict[str, float], have: frozenset[str] | set[str], total: float) -> float:
    return sum(w for t, w in weights.items() if t in have) / total


def candidate_features(
    profile: Profile, stats: TermStats, passages, sentence_sims: list[np.ndarray]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One row of FEATURES per candidate sentence, and its (passage position, sentence
    index). ``sentence_sims[i]`` holds the question's cosine to passage i's sentences."""
    weights = {t: stats.idf(t) for t in profile.terms}
    total = sum(weights.values()) or 1.0
    max_idf = max(weights.values(), default=1.0) or 1.0
    bigrams = profile.bigrams
    kind_row = [float(profile.kind == k) for k in KINDS]
    bm25_max = max((p.bm25 or 0.0) for p in passages) if passages else 0.0
    rows, where = [], []
    for pi, p in enumerate(passages):
        infos, head = stats.chunk(p.chunk_index)
        chunk_terms = frozenset().union(head, *(i.terms for i in infos))
        cov_chunk = _cov(weights, chunk_terms, total)
        sims = sentence_sims[pi]
        for j, info in enumerate(infos):
            ctx = set(info.terms) | head
            if j > 0:
                ctx |= infos[j - 1].terms
            if j + 1 < len(infos):
                ctx |= infos[j + 1].terms
            missing = [weights[t] for t in profile.terms if t not in ctx]
            novel = [t for t in info.terms if t not in weights]
            facts = list(info.facts)
            facts[4] = float(bool(info.names - weights.keys()))
            sent_bigrams = 0.0
            if bigrams:
                sent_bigrams = sum(a in info.terms and b in info.terms for a, b in bigrams) / len(
                    bigrams
                )
            rows.append(
                [
                    float(sims[j]),
                    float(p.dense if p.dense is not None else 0.0),
                    0.0,  # dense_margin, below
                    0.0,  # dense_rank_inv, below
                    1.0 / (pi + 1),
                    (p.bm25 or 0.0) / bm25_max if bm25_max > 0 else 0.0,
                    _cov(weights, info.terms, total),
                    _cov(weights, ctx, total),
                    cov_chunk,
                    0.0,  # cov_margin, below
                    max(missing, default=0.0) / max_idf,
                    float(len(missing)),
                    sent_bigrams,
                    len(novel) / max(len(info.terms), 1),
                    math.log1p(info.n_words),
                    float(profile.negated != bool(info.facts[5])),
                    _found(profile.numbers, ctx),
                    _found(profile.names, ctx),
                    *facts,
                    *kind_row,
                ]
            )
            where.append((pi, j))
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(FEATURES))
    return _against_the_others(x), where


def _against_the_others(x: np.ndarray) -> np.ndarray:
    """The columns that compare a candidate with the question's others: dense_margin,
    dense_rank_inv and cov_margin."""
    if len(x):
        d, cov = x[:, 0], x[:, 6]
        x[:, 2] = d - d.max()
        order = np.argsort(-d, kind="stable")
        rank = np.empty(len(d), dtype=np.float32)
        rank[order] = np.arange(1, len(d) + 1)
        x[:, 3] = 1.0 / rank
        x[:, 9] = cov - cov.max()
    return x


def _found(items: frozenset[str], ctx: set[str]) -> float:
    if not items:
        return 1.0
    return sum((i in ctx) for i in items) / len(items)
