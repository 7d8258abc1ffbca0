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
import re
from typing import NamedTuple

import numpy as np

from ncpi_qa.ingest.text import normalize
from ncpi_qa.qa.calibrator import question_features
from ncpi_qa.qa.features import TermStats, candidate_features
from ncpi_qa.qa.model import AnswerModel
from ncpi_qa.qa.question import Profile
from ncpi_qa.schema import ABSTAIN_PHRASE, CLOSEST_PHRASE, Answer, Candidate, Citation, Passage

DECLINE_TEXT = ABSTAIN_PHRASE + " The closest passages found are listed below."


class Scored(NamedTuple):
    """The candidates, best first, and the two calibrated confidences (qa/calibrator.py)."""

    candidates: list[Candidate]
    confidence: float
    relevance: float


class Decision(NamedTuple):
    """What the answerer says: the text, its tier (schema.TIERS) and its citations."""

    text: str
    tier: str
    citations: list[Citation]

    @property
    def declined(self) -> bool:
        """Nothing is asserted (the closest or none tier)."""
        return self.tier != "answer"


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
        """(indices of the scored candidates, their final logits, their readings or None, and
        their final feature rows).
        ``items(i)`` gives candidate i's (heading, previous sentence, sentence), read only for
        the ones the reader sees."""
        s1 = self.model.stage1.scores(x)
        if self.model.stage2 is None:
            return np.arange(len(x)), s1, [None] * len(x), x
        top = np.argsort(-s1, kind="stable")[: self.model.read_top]
        readings = self.reader.read(question, [items(i) for i in top])
        x2 = stage2_features(x[top], s1[top], readings)
        return top, self.model.stage2.scores(x2), readings, x2

    def sentence_sims(self, qvec: np.ndarray, passages: list[Passage]) -> list[np.ndarray]:
        vectors = self.store.sentence_vectors_for([p.chunk_index for p in passages])
        return [np.asarray(v @ qvec) for v in vectors]

    def features(self, profile: Profile, qvec: np.ndarray, passages: list[Passage]):
        return candidate_features(profile, self.stats, passages, self.sentence_sims(qvec, passages))

    def score(self, profile: Profile, qvec: np.ndarray, passages: list[Passage]) -> Scored:
        """Candidates best first, P(the best answers the question), P(on topic)."""
        x, where = self.features(profile, qvec, passages)
        if not where:
            return Scored([], 0.0, 0.0)
        spans = []
        for pi, j in where:
            ci = passages[pi].chunk_index
            spans.append((ci, j, *self.store.chunks[ci].sentences[j]))

        def item(i: int) -> tuple[str, str, str]:
            ci, j, s, e = spans[i]
            chunk = self.store.chunks[ci]
            text = self.store.documents[chunk.doc_id].text
            return chunk.section, previous_sentence(self.store, ci, j), text[s:e]

        idx, logits, readings, x2 = self.final_scores(profile.text, x, item)
        cands = []
        for i, logit, r in zip(idx, logits, readings, strict=True):
            ci, j, s, e = spans[i]
            span = None
            if r is not None and r.span is not None:
                span = (s + r.span[0], min(s + r.span[1], e))
            span_score = r.span_logit if r is not None else float("-inf")
            cands.append(Candidate(ci, j, s, e, float(logit), float(x[i, 0]), span, span_score))
        cands.sort(key=lambda c: -c.score)
        confidence, relevance = self.confidence(logits, x2)
        return Scored(cands, confidence, relevance)

    def confidence(self, logits: np.ndarray, x2: np.ndarray) -> tuple[float, float]:
        """(P(the answer is right), P(the documents are on topic)): the calibrator's when it
        is fitted, else the Platt-calibrated answer share for both."""
        model = self.model
        if model.calibrator is None or model.stage2 is None or not len(logits):
            p = model.answerability(logits)
            return p, p
        f = question_features(model.answer_logit(logits), logits, x2)
        return model.calibrator.predict(f)

    def decide(
        self,
        profile: Profile,
        candidates: list[Candidate],
        answerability: float,
        threshold: float | None = None,
        margin: float | None = None,
        relevance: float | None = None,
        none_threshold: float | None = None,
    ) -> Decision:
        """The tier and its text: ``answer`` when the calibrated confidence reaches
        ``threshold``; else ``closest`` (the best sentence quoted, not asserted) when the
        relevance reaches ``none_threshold``; else ``none``."""
        threshold = self.model.threshold if threshold is None else threshold
        none_threshold = self.model.none_threshold if none_threshold is None else none_threshold
        margin = self.model.margin if margin is None else margin
        relevance = answerability if relevance is None else relevance
        if not candidates:
            return Decision(DECLINE_TEXT, "none", [])
        if answerability < threshold:
            if relevance < none_threshold:
                return Decision(DECLINE_TEXT, "none", [])
            best = candidates[0]
            c = cite(self.store, 1, best.chunk_index, best.start, best.end, best.score)
            return Decision(f"{CLOSEST_PHRASE} “{c.quote}” [1]", "closest", [c])
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
        lead = span_text(self.store, chosen[0])
        if chosen[0].span_score < self.model.span_min:
            lead = None  # the span itself is not confident: quote the sentence alone
        text, citations = quote(self.store, chosen, lead)
        return Decision(text, "answer", citations)

    def answer(
        self, profile: Profile, qvec: np.ndarray, passages: list[Passage], **decide_kw
    ) -> Answer:
        return answer_with(self, profile, qvec, passages, **decide_kw)


def previous_sentence(store, chunk_index: int, j: int) -> str:
    """The sentence before sentence ``j`` of chunk ``chunk_index`` in its document (from the
    chunk before when ``j`` is its first), or "" at the document's start."""
    chunk = store.chunks[chunk_index]
    text = store.documents[chunk.doc_id].text
    start = chunk.sentences[j][0]
    if j > 0:
        s, e = chunk.sentences[j - 1]
        return text[s:e]
    if chunk_index > 0:
        before = store.chunks[chunk_index - 1]
        if before.doc_id == chunk.doc_id:
            for s, e in reversed(before.sentences):
                if e <= start:
                    return text[s:e]
    return ""


def sentence_text(store, c) -> str:
    """The document text of a candidate (anything with chunk_index, start, end)."""
    return store.documents[store.chunks[c.chunk_index].doc_id].text[c.start : c.end]


# A list separator right beside a span: the span is one item of an enumeration.
_SEP_BEFORE = re.compile(r"(?:[,;]|\band|\bor)\s*$", re.I)
_SEP_AFTER = re.compile(r"^\s*(?:[,;]|and\b|or\b)", re.I)
_FIRST_OF_SEVERAL = re.compile(r"^\s*(?:[,;][^.;:]*?\b(?:and|or)\b|(?:and|or)\b)", re.I)
_LAST_OF_SEVERAL = re.compile(r"\b(?:and|or)\s*$", re.I)
# A number beside another number or an initialism with full stops ("406 U.S. 205"), or after
# a reference's abbreviation ("No. 3", "para. 4"): part of a reference, not a value.
_REF_AFTER = re.compile(r"^\s*(?:\d|(?:[A-Z]\.){2,})")
_REF_BEFORE = re.compile(r"(?:\d|(?:[A-Z]\.){2,}|\b(?:No|Nos|para|paras|pp?|art|vol)\.?)\s*$")


def span_is_whole(sentence: str, a: int, b: int) -> bool:
    """Whether ``sentence[a:b]`` reads as a whole answer: not one item of a list (separators
    on both sides; or "X, Y and ..." / "X and Y" after it; or "... and" before it), and not a
    number cut out of a reference such as "406 U.S. 205" or "No. 3". Grammar only: no words
    of any question or document."""
    before, after = sentence[:a], sentence[b:]
    if _SEP_BEFORE.search(before) and _SEP_AFTER.search(after):
        return False
    if _FIRST_OF_SEVERAL.search(after) or _LAST_OF_SEVERAL.search(before):
        return False
    span = sentence[a:b].strip()
    if re.fullmatch(r"[\d.,]+", span) and (_REF_AFTER.search(after) or _REF_BEFORE.search(before)):
        return False
    return True


def span_text(store, c) -> str | None:
    """The reader's answer span inside candidate ``c`` (None when it has none, when the span
    is the whole sentence, which would say nothing the quote does not, or when it is not a
    whole answer: one item of a list, a fragment of a reference)."""
    if c.span is None:
        return None
    doc = store.documents[store.chunks[c.chunk_index].doc_id]
    text = doc.text[c.span[0] : c.span[1]].strip()
    if not text or len(text) >= len(doc.text[c.start : c.end].strip()):
        return None
    sentence = doc.text[c.start : c.end]
    if not span_is_whole(sentence, c.span[0] - c.start, c.span[1] - c.start):
        return None
    return " ".join(text.split())


def quote(store, chosen, lead: str | None = None) -> tuple[str, list[Citation]]:
    """The answer text — the chosen sentences quoted with [n] markers, led by the reader's
    span when there is one — and their citations (the lead's span marked in the first)."""
    citations = [
        cite(store, n, c.chunk_index, c.start, c.end, c.score, c.span if lead and n == 1 else None)
        for n, c in enumerate(chosen, 1)
    ]
    text = " ".join(f"“{c.quote}” [{c.n}]" for c in citations)
    return (f"{lead} — {text}" if lead else text), citations


def answer_with(answerer, profile, qvec: np.ndarray, passages, **decide_kw) -> Answer:
    """score() once, decide() once: the Answer, for either answerer."""
    candidates, best, relevance = answerer.score(profile, qvec, passages)
    decision = answerer.decide(profile, candidates, best, relevance=relevance, **decide_kw)
    return Answer(
        question=profile.text,
        text=decision.text,
        abstained=decision.declined,
        tier=decision.tier,
        citations=decision.citations,
        passages=passages,
        candidates=candidates,
        best_score=best if best is not None and math.isfinite(best) else None,
        threshold=decide_kw.get("threshold", answerer.threshold),
        none_threshold=decide_kw.get("none_threshold", answerer.model.none_threshold),
        relevance=relevance,
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
