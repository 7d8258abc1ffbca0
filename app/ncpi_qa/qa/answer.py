"""The extractive answerer: score every sentence of the retrieved passages (stage 1), let the
reader read the best with the question (stage 2), then decide: quote the best (and any within
the fitted margin), led by the reader's span, or decline.

``score(profile, qvec, passages) -> (candidates, answerability)`` runs the model once;
``decide(...)`` turns the same candidates into an Answer at any threshold, so the eval's
threshold sweep never re-runs retrieval or the model. No language model: every word of an
answer's quotes is the document's own text, and each quote's offsets point at it exactly.
"""

from __future__ import annotations

import math

import numpy as np

from ncpi_qa.ingest.text import normalize
from ncpi_qa.qa.features import TermStats, candidate_features
from ncpi_qa.qa.model import AnswerModel
from ncpi_qa.qa.question import Profile
from ncpi_qa.schema import ABSTAIN_PHRASE, Answer, Candidate, Citation, Passage

DECLINE_TEXT = ABSTAIN_PHRASE + " The closest passages are listed as sources."


def stage2_features(x: np.ndarray, s1: np.ndarray, readings) -> np.ndarray:
    """The read candidates' features: their own, stage 1's score and the reader's (its
    sentence logit and its best span's), each also relative to the best (READ_FEATURES)."""
    rd = np.array([r.logit for r in readings], dtype=np.float32)
    span = np.array(
        [r.span_logit if math.isfinite(r.span_logit) else -20.0 for r in readings],
        dtype=np.float32,
    )
    order = np.argsort(-rd, kind="stable")
    rank = np.empty(len(rd), dtype=np.float32)
    rank[order] = np.arange(1, len(rd) + 1)
    extra = np.stack(
        [s1, s1 - s1.max(), rd, rd - rd.max(), 1.0 / rank, span, span - span.max()], axis=1
    )
    return np.concatenate([x, extra.astype(np.float32)], axis=1)


class Answerer:
    def __init__(self, store, model: AnswerModel, max_sentences: int = 3, reader=None) -> None:
        self.store = store
        self.model = model
        self.max_sentences = max_sentences
        self.stats = TermStats(store)
        self._reader = reader

    @property
    def threshold(self) -> float:
        return self.model.threshold

    @property
    def margin(self) -> float:
        return self.model.margin

    @property
    def reader(self):
        if self._reader is None:
            from ncpi_qa.qa.reader import shared_reader

            self._reader = shared_reader()
        return self._reader

    def final_scores(self, question: str, x: np.ndarray, items):
        """(indices of the scored candidates, their final logits, their readings or None).
        ``items(i)`` gives candidate i's (heading, sentence), read only for the ones the
        reader sees."""
        s1 = self.model.stage1.scores(x)
        if self.model.stage2 is None:
            return np.arange(len(x)), s1, [None] * len(x)
        top = np.argsort(-s1, kind="stable")[: self.model.read_top]
        readings = self.reader.read(question, [items(i) for i in top])
        logits = self.model.stage2.scores(stage2_features(x[top], s1[top], readings))
        return top, logits, readings

    def sentence_sims(self, qvec: np.ndarray, passages: list[Passage]) -> list[np.ndarray]:
        vectors = self.store.sentence_vectors_for([p.chunk_index for p in passages])
        return [np.asarray(v @ qvec) for v in vectors]

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

        def item(i: int) -> tuple[str, str]:
            ci, _, s, e = spans[i]
            chunk = self.store.chunks[ci]
            return chunk.section, self.store.documents[chunk.doc_id].text[s:e]

        idx, logits, readings = self.final_scores(profile.text, x, item)
        cands = []
        for i, logit, r in zip(idx, logits, readings, strict=True):
            ci, j, s, e = spans[i]
            span = None
            if r is not None and r.span is not None:
                span = (s + r.span[0], min(s + r.span[1], e))
            cands.append(Candidate(ci, j, s, e, float(logit), float(x[i, 0]), span))
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
        text, citations = quote(self.store, chosen, span_text(self.store, chosen[0]))
        return text, False, citations

    def answer(
        self, profile: Profile, qvec: np.ndarray, passages: list[Passage], **decide_kw
    ) -> Answer:
        return answer_with(self, profile, qvec, passages, **decide_kw)


def sentence_text(store, c) -> str:
    """The document text of a candidate (anything with chunk_index, start, end)."""
    return store.documents[store.chunks[c.chunk_index].doc_id].text[c.start : c.end]


def span_text(store, c) -> str | None:
    """The reader's answer span inside candidate ``c`` (None when it has none, or when the
    span is the whole sentence, which would say nothing the quote does not)."""
    if c.span is None:
        return None
    doc = store.documents[store.chunks[c.chunk_index].doc_id]
    text = doc.text[c.span[0] : c.span[1]].strip()
    if not text or len(text) >= len(doc.text[c.start : c.end].strip()):
        return None
    return " ".join(text.split())


def quote(store, chosen, lead: str | None = None) -> tuple[str, list[Citation]]:
    """The answer text — the chosen sentences quoted with [n] markers, led by the reader's
    span when there is one — and their citations."""
    citations = [
        cite(store, n, c.chunk_index, c.start, c.end, c.score, c.span)
        for n, c in enumerate(chosen, 1)
    ]
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
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


def cite(store, n: int, chunk_index: int, start: int, end: int, score: float, span=None):
    """Citation ``n``: the sentence at ``[start, end)`` of chunk ``chunk_index``'s document;
    ``span``: the reader's answer inside it (document offsets), marked in the chat."""
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
        span=tuple(span) if span else None,
    )
