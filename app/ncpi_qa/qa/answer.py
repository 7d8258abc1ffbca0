"""The extractive answerer: score every sentence of the retrieved passages with the learned
model, then decide: quote the best (and any within the fitted margin), or decline.

``score(profile, qvec, passages) -> (candidates, answerability)`` runs the model once;
``decide(...)`` turns the same candidates into an Answer at any threshold, so the eval's
threshold sweep never re-runs retrieval or the model. No language model: every word of an
answer's quotes is the document's own text, and each quote's offsets point at it exactly.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ncpi_qa.ingest.text import normalize
from ncpi_qa.qa.features import TermStats, candidate_features
from ncpi_qa.qa.model import AnswerModel
from ncpi_qa.qa.question import Profile
from ncpi_qa.schema import ABSTAIN_PHRASE, Answer, Candidate, Citation, Passage

DECLINE_TEXT = ABSTAIN_PHRASE + " The closest passages are listed as sources."

_LEAD = {
    "how_many": re.compile(r"\b\d[\d,.]*\b"),
    "how_much": re.compile(r"[£$€]?\s?\b\d[\d,.]*\s?(?:%|per ?cent|million|billion)?"),
    "when": re.compile(
        r"\b(?:\d{1,2} )?(?:January|February|March|April|May|June|July|August|September|"
        r"October|November|December)(?: \d{1,2},?)?(?: \d{4})?\b|\b(?:1\d{3}|20\d\d)s?\b"
    ),
}


def stage2_features(x: np.ndarray, s1: np.ndarray, ce: np.ndarray) -> np.ndarray:
    """The reranked candidates' features: their own, stage 1's score and the cross-encoder's,
    each also relative to the best (RERANK_FEATURES)."""
    order = np.argsort(-ce, kind="stable")
    rank = np.empty(len(ce), dtype=np.float32)
    rank[order] = np.arange(1, len(ce) + 1)
    extra = np.stack([s1, s1 - s1.max(), ce, ce - ce.max(), 1.0 / rank], axis=1)
    return np.concatenate([x, extra.astype(np.float32)], axis=1)


class Answerer:
    def __init__(self, store, model: AnswerModel, max_sentences: int = 3, reranker=None) -> None:
        self.store = store
        self.model = model
        self.max_sentences = max_sentences
        self.stats = TermStats(store)
        self._reranker = reranker

    @property
    def threshold(self) -> float:
        return self.model.threshold

    @property
    def margin(self) -> float:
        return self.model.margin

    @property
    def reranker(self):
        if self._reranker is None:
            from ncpi_qa.qa.reranker import CrossEncoder

            self._reranker = CrossEncoder()
        return self._reranker

    def final_scores(self, question: str, x: np.ndarray, texts) -> tuple[np.ndarray, np.ndarray]:
        """(indices of the scored candidates, their final logits). ``texts(i)`` gives
        candidate i's sentence, read only for the ones the cross-encoder sees."""
        s1 = self.model.stage1.scores(x)
        if self.model.stage2 is None:
            return np.arange(len(x)), s1
        top = np.argsort(-s1, kind="stable")[: self.model.rerank_top]
        ce = self.reranker.score(question, [texts(i) for i in top])
        return top, self.model.stage2.scores(stage2_features(x[top], s1[top], ce))

    def sentence_sims(self, qvec: np.ndarray, passages: list[Passage]) -> list[np.ndarray]:
        out = []
        for p in passages:
            base = self.store.sentence_offsets[p.chunk_index]
            n = len(self.store.chunks[p.chunk_index].sentences)
            out.append(np.asarray(self.store.sentence_vectors[base : base + n] @ qvec))
        return out

    def features(self, profile: Profile, qvec: np.ndarray, passages: list[Passage]):
        return candidate_features(profile, self.stats, passages, self.sentence_sims(qvec, passages))

    def score(
        self, profile: Profile, qvec: np.ndarray, passages: list[Passage]
    ) -> tuple[list[Candidate], float]:
        """Candidates best first, and P(one of them answers the question)."""
        x, where = self.features(profile, qvec, passages)
        if not where:
            return [], 0.0
        spans = []
        for pi, j in where:
            ci = passages[pi].chunk_index
            spans.append((ci, j, *self.store.chunks[ci].sentences[j]))

        def text(i: int) -> str:
            ci, _, s, e = spans[i]
            return self.store.documents[self.store.chunks[ci].doc_id].text[s:e]

        idx, logits = self.final_scores(profile.text, x, text)
        cands = [
            Candidate(*spans[i], score=float(logit), dense=float(x[i, 0]))
            for i, logit in zip(idx, logits, strict=True)
        ]
        cands.sort(key=lambda c: -c.score)
        return cands, self.model.answerability(logits)

    def decide(
        self,
        profile: Profile,
        candidates: list[Candidate],
        answerability: float,
        threshold: float | None = None,
        margin: float | None = None,
    ) -> tuple[str, bool, list[Citation]]:
        """The answer text, whether it declines, and its citations."""
        threshold = self.model.threshold if threshold is None else threshold
        margin = self.model.margin if margin is None else margin
        if not candidates or answerability < threshold:
            return DECLINE_TEXT, True, []
        best = candidates[0].score
        chosen: list[Candidate] = []
        seen: set[str] = set()
        for c in candidates:
            if len(chosen) >= self.max_sentences or (chosen and c.score < best - margin):
                break
            key = normalize(sentence_text(self.store, c))
            if key not in seen:
                seen.add(key)
                chosen.append(c)
        text, citations = quote(self.store, chosen, lambda s: lead_fact(s, profile))
        return text, False, citations

    def answer(
        self, profile: Profile, qvec: np.ndarray, passages: list[Passage], **decide_kw
    ) -> Answer:
        return answer_with(self, profile, qvec, passages, **decide_kw)


def sentence_text(store, c) -> str:
    """The document text of a candidate (anything with chunk_index, start, end)."""
    return store.documents[store.chunks[c.chunk_index].doc_id].text[c.start : c.end]


def quote(store, chosen, lead_of) -> tuple[str, list[Citation]]:
    """The answer text — the chosen sentences quoted with [n] markers, led by ``lead_of(first
    quote)`` when that gives a fact — and their citations. Both answerers answer this way."""
    citations = [
        cite(store, n, c.chunk_index, c.start, c.end, c.score) for n, c in enumerate(chosen, 1)
    ]
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
    lead = lead_of(citations[0].quote)
    return (f"{lead} — {text}" if lead else text), citations


def answer_with(answerer, profile, qvec: np.ndarray, passages, **decide_kw) -> Answer:
    """score() once, decide() once: the Answer, for either answerer."""
    candidates, best = answerer.score(profile, qvec, passages)
    text, declined, citations = answerer.decide(profile, candidates, best, **decide_kw)
    return Answer(
        question=profile.text,
        text=text,
        abstained=declined,
        citations=citations,
        passages=passages,
        candidates=candidates,
        best_score=best if best is not None and math.isfinite(best) else None,
        threshold=decide_kw.get("threshold", answerer.threshold),
    )


def cite(store, n: int, chunk_index: int, start: int, end: int, score: float) -> Citation:
    """Citation ``n``: the sentence at ``[start, end)`` of chunk ``chunk_index``'s document."""
    chunk = store.chunks[chunk_index]
    doc = store.documents[chunk.doc_id]
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=doc.title,
        section=chunk.section,
        page=doc.page_at(start),
        quote=doc.text[start:end],
        start=start,
        end=end,
        score=round(score, 4),
        chunk_id=chunk.chunk_id,
    )


def lead_fact(sentence: str, profile: Profile) -> str | None:
    """For "how many", "how much" and "when" questions, the one number or date the sentence
    holds that the question does not (None when there is not exactly one)."""
    rx = _LEAD.get(profile.kind)
    if rx is None:
        return None
    q = normalize(profile.text)
    found = []
    for m in rx.finditer(sentence):
        v = m.group(0).strip(" ,.")
        if v and normalize(v) not in q and v not in found:
            found.append(v)
    return found[0] if len(found) == 1 else None
