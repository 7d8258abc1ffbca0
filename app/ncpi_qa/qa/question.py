"""Read a question once: its content terms, the kind of answer it asks for, its numbers and
names. ``analyse(question) -> Profile`` runs once per question; the answerer's features
(qa/features.py) read the profile, never the question text again.

The same term pipeline (lower-case ``\\w\\w+`` tokens, English stopwords, Snowball stems)
reads sentences, so question and sentence terms compare directly, and it matches the BM25
index's tokenizer, so the index's document frequencies give each term's IDF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ncpi_qa.ingest.text import STOPWORDS, normalize

# Answer kinds, from the question's wh-phrase. The learned model weighs each kind against
# what a sentence holds (a number, a year, a name ...); nothing here decides an answer.
KINDS = (
    "how_many",
    "how_much",
    "when",
    "who",
    "where",
    "why",
    "how",
    "which",
    "what",
    "other",
)
_KIND_PATTERNS = [
    ("how_many", r"\bhow many\b|\bnumber of\b"),
    ("how_much", r"\bhow (?:much|long|far|old|large|big|high|tall|often)\b|\bwhat percent"),
    ("when", r"\bwhen\b|\bwhat (?:year|date|century|decade|month|day|time)\b|\bwhich year\b"),
    ("who", r"\bwho(?:m|se)?\b"),
    ("where", r"\bwhere\b"),
    ("why", r"\bwhy\b"),
    ("how", r"\bhow\b"),
    ("which", r"\bwhich\b"),
    ("what", r"\bwhat\b"),
]
_KIND_RES = [(k, re.compile(p, re.I)) for k, p in _KIND_PATTERNS]
_WORD = re.compile(r"\w\w+")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")
_CAPS = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z]+")
NEGATION = re.compile(r"\b(?:not|no|never|none|nor|without|n't|cannot)\b|n't\b", re.I)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def terms(text: str) -> list[str]:
    """Content-word stems of a text, in order, repeats kept."""
    return [stem(w) for w in _WORD.findall(normalize(text)) if w not in STOPWORDS]


def content_words(text: str) -> dict[str, str]:
    """Stem -> the first surface word with that stem, for the text's content words."""
    out: dict[str, str] = {}
    for w in _WORD.findall(normalize(text)):
        if w not in STOPWORDS:
            out.setdefault(stem(w), w)
    return out


def kind_of(question: str) -> str:
    """The earliest wh-phrase decides ("What year did..." is ``when``; "In which city" is
    ``which``); ``other`` when there is none."""
    best: tuple[int, int, str] | None = None
    for order, (kind, rx) in enumerate(_KIND_RES):
        m = rx.search(question)
        if m and (best is None or (m.start(), order) < best[:2]):
            best = (m.start(), order, kind)
    return best[2] if best else "other"


@dataclass(frozen=True)
class Profile:
    text: str
    terms: tuple[str, ...]  # content stems, unique, in order
    words: dict[str, str]  # stem -> surface word
    kind: str
    numbers: frozenset[str]
    names: frozenset[str]  # stems of capitalised words that do not start the question
    negated: bool

    @property
    def bigrams(self) -> frozenset[tuple[str, str]]:
        t = self.terms
        return frozenset(zip(t, t[1:], strict=False))


def analyse(question: str) -> Profile:
    words = content_words(question)
    return Profile(
        text=question,
        terms=tuple(words),
        words=words,
        kind=kind_of(question),
        numbers=frozenset(_NUMBER.findall(question)),
        names=frozenset(stem(w.lower()) for w in _CAPS.findall(question.strip())),
        negated=bool(NEGATION.search(question)),
    )
