"""The rule-based answerer (the default until the learned one beats it on the documents this
bot is for; see evals/README.md): hand-weighted sentence scores and question-type rules.

A sentence's score mixes its embedding similarity to the question, how much of the question's
(IDF-weighted) content words it covers, and whether it holds the kind of fact asked for (a
number, a date, a name). Below the abstention threshold, it declines and cites nothing. It
has the learned answerer's interface (qa/answer.py): ``score`` once, ``decide`` at any
threshold, ``answer`` -> Answer. Its weights and rules were tuned on evals/dev.jsonl, so its
figures there are in-sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ncpi_qa.ingest.text import normalize
from ncpi_qa.qa.answer import answer_with, quote, sentence_text
from ncpi_qa.qa.rules_terms import (
    _ANAPHOR,
    _is_list_item,
    _year_conflict,
    content_terms,
    content_words,
    has_type,
    lead_fact,
    question_type,
)
from ncpi_qa.schema import ABSTAIN_PHRASE, Answer

# Question types whose extra quotes must hold the asked-for kind of fact too.
WORD_CACHE_MAX = 20_000  # word vectors kept for soft matches (~30 MB at 384 floats)
_TYPED = frozenset({"number", "date", "duration", "frequency", "money"})

DECLINE_TEXT = ABSTAIN_PHRASE + " The closest passages are listed as sources."


@dataclass
class Scored:
    chunk_index: int
    sentence_index: int  # position within the chunk
    start: int
    end: int
    score: float
    dense: float
    coverage: float  # share of the question's known content words (IDF-weighted) it holds
    type_ok: bool
    coverage_all: float = 0.0  # the same share counting words the corpus never uses
    qtype: str | None = None
    year_conflict: bool = False  # the sentence is about other years than the question names


class RulesAnswerer:
    def __init__(
        self,
        store,
        threshold: float,
        max_sentences: int = 3,
        w_dense: float = 0.3,
        w_lexical: float = 0.1,
        w_lexical_all: float = 0.3,
        type_bonus: float = 0.05,
        type_penalty: float = 0.5,
        margin: float = 0.05,
        embedder=None,
        soft_min: float = 0.55,
        soft_top: int = 6,
        year_penalty: float = 0.1,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.soft_min = soft_min
        self.soft_top = soft_top
        self.year_penalty = year_penalty
        self._wv: dict[str, np.ndarray] = {}
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.w_dense, self.w_lexical, self.w_lexical_all = w_dense, w_lexical, w_lexical_all
        self.type_bonus, self.type_penalty, self.margin = type_bonus, type_penalty, margin
        self._df, self._n = self._document_frequencies(store)

    @staticmethod
    def _document_frequencies(store) -> tuple[dict[str, int], int]:
        """Term -> number of sentences holding it (of chunks, from BM25, on large corpora)."""
        if len(store.chunks) > 2000:
            bm = store.bm25
            df = np.diff(np.asarray(bm.scores["indptr"]))
            return {t: int(df[i]) for t, i in bm.vocab_dict.items() if i < len(df)}, len(df)
        counts: dict[str, int] = {}
        n = 0
        for chunk in store.chunks:
            text = store.documents[chunk.doc_id].text
            section = set(content_terms(chunk.section))
            for s, e in chunk.sentences:
                n += 1
                for t in set(content_terms(text[s:e])) | section:
                    counts[t] = counts.get(t, 0) + 1
        return counts, max(n, 1)

    def idf(self, term: str) -> float:
        """Smoothed IDF; a term the corpus never uses counts as if one sentence held it."""
        df = max(self._df.get(term, 0), 1)
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def known(self, term: str) -> bool:
        return term in self._df

    def _word_vectors(self, words: set[str]) -> dict[str, np.ndarray]:
        missing = [w for w in words if w not in self._wv]
        if len(self._wv) + len(missing) > WORD_CACHE_MAX:  # bounded: start afresh
            self._wv.clear()
        if missing and self.embedder is not None:
            for w, v in zip(missing, self.embedder.encode(missing), strict=True):
                self._wv[w] = v
        return {w: self._wv[w] for w in words if w in self._wv}

    def _soft_matches(self, unknown: dict[str, str], words: dict[str, str]) -> dict[str, float]:
        """For question words the corpus never uses, the best embedding similarity to a word of
        the sentence (kids ~ children, start ~ began), when at least ``soft_min``."""
        if not unknown or self.embedder is None or not words:
            return {}
        vecs = self._word_vectors(set(unknown.values()) | set(words.values()))
        cands = [vecs[w] for w in words.values() if w in vecs]
        if not cands:
            return {}
        mat = np.stack(cands)
        out = {}
        for stem, w in unknown.items():
            if w in vecs:
                best = float((mat @ vecs[w]).max())
                if best >= self.soft_min:
                    out[stem] = best
        return out

    def score_sentences(
        self, question: str, qvec: np.ndarray, chunk_indices: list[int]
    ) -> list[Scored]:
        store = self.store
        qwords = content_words(question)
        weights = {t: self.idf(t) for t in qwords}
        unknown = {t: w for t, w in qwords.items() if not self.known(t)}
        known_total = sum(w for t, w in weights.items() if t not in unknown) or 1.0
        all_total = sum(weights.values()) or 1.0
        qtype = question_type(question)
        out: list[Scored] = []
        words_of: dict[int, dict[str, str]] = {}
        for ci in chunk_indices:
            chunk = store.chunks[ci]
            doc_text = store.documents[chunk.doc_id].text
            base = store.sentence_offsets[ci]
            sims = store.sentence_vectors[base : base + len(chunk.sentences)] @ qvec
            section_words = content_words(chunk.section)
            prev_words: dict[str, str] = {}
            intro_words: dict[str, str] = {}
            for j, (s, e) in enumerate(chunk.sentences):
                sent = doc_text[s:e]
                own = content_words(sent)
                # Read a sentence with its section heading ("PCC's response" names its topic),
                # one that opens with "These"/"This" with the sentence before it, and a list
                # item with the sentence that introduces the list ("Since then, HMICFRS has:").
                words = {**section_words, **own}
                if _ANAPHOR.match(sent):
                    words = {**prev_words, **words}
                if _is_list_item(doc_text, s):
                    words = {**intro_words, **words}
                elif sent.endswith(":"):
                    intro_words = own
                else:
                    intro_words = {}
                prev_words = own
                if len(sent.split()) < 3:  # a heading line or a fragment answers nothing
                    continue
                matched = 0.0
                for t, w in weights.items():
                    if t in words or (
                        len(t) >= 5
                        and any(x.startswith(t) or (len(x) >= 5 and t.startswith(x)) for x in words)
                    ):
                        matched += w
                type_ok = has_type(sent, qtype, question)
                conflict = _year_conflict(sent, question, chunk.title)
                sc = Scored(
                    ci,
                    j,
                    s,
                    e,
                    0.0,
                    float(sims[j]),
                    min(
                        1.0,
                        (matched - sum(weights[t] for t in unknown if t in words)) / known_total,
                    ),
                    type_ok,
                    min(1.0, matched / all_total),
                    qtype,
                    conflict,
                )
                sc.score = self.combine(sc)
                out.append(sc)
                words_of[id(sc)] = words
        out.sort(key=lambda x: -x.score)
        # Soft matches cost an encoder call for words not seen before, so only the leading
        # candidates get them; their scores can only rise.
        if unknown and self.embedder is not None:
            for sc in out[: self.soft_top]:
                soft = self._soft_matches(unknown, words_of[id(sc)])
                if soft:
                    mass = sum(weights[t] * sim for t, sim in soft.items())
                    sc.coverage_all = min(1.0, sc.coverage_all + mass / all_total)
                    sc.score = self.combine(sc)
            out.sort(key=lambda x: -x.score)
        return out

    def combine(self, sc: Scored) -> float:
        score = (
            self.w_dense * sc.dense
            + self.w_lexical * sc.coverage
            + self.w_lexical_all * sc.coverage_all
        )
        if sc.qtype:
            score += self.type_bonus if sc.type_ok else -self.type_penalty
        elif not sc.type_ok:
            score -= self.type_penalty
        if sc.year_conflict:
            score -= self.year_penalty
        return score

    def score(self, profile, qvec: np.ndarray, passages) -> tuple[list[Scored], float]:
        scored = self.score_sentences(profile.text, qvec, [p.chunk_index for p in passages])
        return scored, (scored[0].score if scored else float("-inf"))

    def decide(self, profile, scored: list[Scored], best: float, threshold=None, margin=None):
        """The answer text, whether it declines, and its citations, at ``threshold``."""
        threshold = self.threshold if threshold is None else threshold
        margin = self.margin if margin is None else margin
        if not scored or best < threshold:
            return DECLINE_TEXT, True, []
        question = profile.text
        qtype = scored[0].qtype  # every Scored carries the question's type
        needs_type = qtype in _TYPED
        chosen: list[Scored] = []
        seen: set[str] = set()
        for sc in scored:
            if len(chosen) >= self.max_sentences:
                break
            if chosen and (sc.score < threshold or sc.score < best - margin):
                break
            if needs_type and not sc.type_ok and chosen:
                continue
            key = normalize(sentence_text(self.store, sc))
            if key in seen:
                continue
            seen.add(key)
            chosen.append(sc)
        text, citations = quote(self.store, chosen, lambda s: lead_fact(s, qtype, question))
        return text, False, citations

    def answer(self, profile, qvec: np.ndarray, passages, **decide_kw) -> Answer:
        return answer_with(self, profile, qvec, passages, **decide_kw)
