"""The extractive answerer: choose source sentences that answer the question, cite each one.

No language model: every word of an answer's quotes is the document's own text, and each
quote's offsets point at it exactly. A sentence's score mixes its embedding similarity to the
question, how much of the question's (IDF-weighted) content words it covers, and whether it
holds the kind of fact asked for (a number, a date, a name). Below the abstention threshold,
the answerer says the documents don't answer and cites nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .text import STOPWORDS, normalize

ABSTAIN_PHRASE = "The documents don't answer this."

_NUMBER_WORDS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred",
    "thousand", "million", "dozen", "half", "third", "quarter",
}
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NUM = re.compile(r"\b\d[\d,.]*%?|\b(?:" + "|".join(sorted(_NUMBER_WORDS)) + r")\b", re.I)
_Q_NUMBER = re.compile(
    r"\bhow (?:many|much|often|long)\b|\bwhat (?:number|percentage|proportion|share|total)\b"
    r"|\bnumber of\b|\bcount of\b", re.I)
_Q_DATE = re.compile(r"\bwhen\b|\b(?:what|which|in what) year\b|\bwhat date\b|\bsince when\b", re.I)
_Q_NAME = re.compile(r"^\s*who\b|\bwho (?:is|are|was|were|did|does|do)\b|\bwhich (?:organi[sz]ation|"
                     r"agenc|bod|inspectorate|force|partners?)|\bwith whom\b|\bname the\b", re.I)


def question_type(question: str) -> str | None:
    if _Q_NUMBER.search(question):
        return "number"
    if _Q_DATE.search(question):
        return "date"
    if _Q_NAME.search(question):
        return "name"
    return None


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def content_terms(text: str) -> list[str]:
    words = re.findall(r"\w\w+", normalize(text))
    return [_stem(w) for w in words if w not in STOPWORDS]


def has_type(sentence: str, qtype: str | None, question: str) -> bool:
    if qtype == "number":
        nums = [m.group(0).lower() for m in _NUM.finditer(sentence)]
        return any(not _YEAR.fullmatch(n) and n not in normalize(question) for n in nums)
    if qtype == "date":
        return bool(_YEAR.search(sentence) or re.search(_MONTHS, sentence, re.I))
    if qtype == "name":
        q = normalize(question)
        caps = re.findall(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z’']+", sentence)
        return any(c.lower() not in q for c in caps)
    return True


def lead_fact(sentence: str, qtype: str | None, question: str) -> str | None:
    """The number or year the question asks for, when the sentence holds exactly one candidate."""
    q = normalize(question)
    if qtype == "date":
        years = [y for y in dict.fromkeys(_YEAR.findall(sentence)) if y not in q]
        return years[0] if len(years) == 1 else None
    if qtype != "number":
        return None
    cands = []
    for m in _NUM.finditer(sentence):
        n = m.group(0).rstrip(".,")
        if _YEAR.fullmatch(n) or re.search(rf"\b{re.escape(n.lower())}\b", q):
            continue
        nxt = re.match(r"\s+(?:\w+\s+){0,2}?(\w+)", sentence[m.end():])
        cands.append((n, nxt.group(1) if nxt else ""))
    if len(cands) == 1:
        return cands[0][0]
    qterms = set(content_terms(question))
    near = [n for n, after in cands if after and _stem(after.lower()) in qterms]
    return near[0] if len(set(near)) == 1 else None


@dataclass
class Scored:
    chunk_index: int
    sentence_index: int  # position within the chunk
    start: int
    end: int
    score: float
    dense: float
    coverage: float
    type_ok: bool


class ExtractiveAnswerer:
    def __init__(self, store, threshold: float, max_sentences: int = 3,
                 w_dense: float = 0.5, w_lexical: float = 0.5, type_bonus: float = 0.1,
                 type_penalty: float = 0.15, margin: float = 0.1) -> None:
        self.store = store
        self.threshold = threshold
        self.max_sentences = max_sentences
        self.w_dense, self.w_lexical = w_dense, w_lexical
        self.type_bonus, self.type_penalty, self.margin = type_bonus, type_penalty, margin
        bm = store.bm25
        self._vocab = bm.vocab_dict
        indptr = np.asarray(bm.scores["indptr"])
        self._df = np.diff(indptr)
        self._n = max(len(store.chunks), 1)

    def idf(self, term: str) -> float:
        i = self._vocab.get(term)
        df = int(self._df[i]) if i is not None and i < len(self._df) else 0
        return math.log(1 + (self._n - df + 0.5) / (df + 0.5))

    def score_sentences(self, question: str, qvec: np.ndarray, chunk_indices: list[int]
                        ) -> list[Scored]:
        store = self.store
        qterms = list(dict.fromkeys(content_terms(question)))
        weights = {t: self.idf(t) for t in qterms}
        total = sum(weights.values()) or 1.0
        qtype = question_type(question)
        out: list[Scored] = []
        for ci in chunk_indices:
            chunk = store.chunks[ci]
            doc_text = store.documents[chunk.doc_id].text
            base = store.sentence_offsets[ci]
            sims = store.sentence_vectors[base:base + len(chunk.sentences)] @ qvec
            for j, (s, e) in enumerate(chunk.sentences):
                sent = doc_text[s:e]
                # A sentence is read with its section heading: "PCC's response" names its topic.
                terms = set(content_terms(sent)) | set(content_terms(chunk.section))
                coverage = sum(w for t, w in weights.items() if t in terms) / total
                type_ok = has_type(sent, qtype, question)
                score = self.w_dense * float(sims[j]) + self.w_lexical * coverage
                if qtype:
                    score += self.type_bonus if type_ok else -self.type_penalty
                out.append(Scored(ci, j, s, e, score, float(sims[j]), coverage, type_ok))
        out.sort(key=lambda x: -x.score)
        return out

    def answer(self, question: str, qvec: np.ndarray, chunk_indices: list[int]) -> dict:
        scored = self.score_sentences(question, qvec, chunk_indices)
        best = scored[0].score if scored else float("-inf")
        if not scored or best < self.threshold:
            return {"answer": ABSTAIN_PHRASE + " The closest passages are listed as sources.",
                    "abstained": True, "citations": [], "best_score": best, "scored": scored}
        chosen: list[Scored] = []
        seen: set[str] = set()
        for sc in scored:
            if len(chosen) >= self.max_sentences:
                break
            if chosen and (sc.score < self.threshold or sc.score < best - self.margin):
                break
            if qtype_needs_type(question) and not sc.type_ok and chosen:
                continue
            key = normalize(self._text(sc))
            if key in seen:
                continue
            seen.add(key)
            chosen.append(sc)
        citations, parts = [], []
        lead = lead_fact(self._text(chosen[0]), question_type(question), question)
        for n, sc in enumerate(chosen, start=1):
            chunk = self.store.chunks[sc.chunk_index]
            doc = self.store.documents[chunk.doc_id]
            quote = doc.text[sc.start:sc.end]
            citations.append({
                "n": n, "doc_id": chunk.doc_id, "title": doc.title, "section": chunk.section,
                "page": doc.page_at(sc.start), "quote": quote, "start": sc.start,
                "end": sc.end, "score": round(sc.score, 4), "chunk_id": chunk.chunk_id,
            })
            parts.append(f"“{quote}” [{n}]")
        text = " ".join(parts)
        if lead:
            text = f"{lead} — {text}"
        return {"answer": text, "abstained": False, "citations": citations, "best_score": best,
                "scored": scored}

    def _text(self, sc: Scored) -> str:
        chunk = self.store.chunks[sc.chunk_index]
        return self.store.documents[chunk.doc_id].text[sc.start:sc.end]


def qtype_needs_type(question: str) -> bool:
    return question_type(question) in ("number", "date")
