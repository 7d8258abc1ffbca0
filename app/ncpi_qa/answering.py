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
_Q_NAME = re.compile(r"\bwhich (?:organi[sz]ations?|agenc(?:y|ies)|bod(?:y|ies)|inspectorates?|forces?|"
                     r"partners?)\b|\bwith whom\b|\bname the\b", re.I)


_Q_MONEY = re.compile(r"\bhow much\b.*\b(?:cost|spend|spent|budget|fund|funding|pay|paid|worth)\b"
                      r"|\b(?:cost|budget|price)\b", re.I)
_MONEY = re.compile(r"[£$€]\s?\d|\b\d[\d,.]*\s?(?:million|billion|pounds|m|bn)\b|\bcost\w*\b", re.I)
_Q_ACRONYM = re.compile(r"\b(?:what|whats|what's) (?:does|do|is) (?:the )?([A-Za-z&]{2,12}) "
                        r"(?:stand for|short for|mean)\b|\bwhat do the letters ([A-Za-z&]{2,12})", re.I)
_Q_WHERE = re.compile(r"\bwhere\b|\bfind\b|\bread\b|\bview\b|\baccess\b|\blink\b|\bsee\b|"
                      r"\bavailable\b|\bdownload\b", re.I)
# Sentences that only point elsewhere ("can be viewed here") say nothing about content.
_POINTER = re.compile(r"\b(?:can|may) be (?:viewed|found|read|accessed|downloaded|seen)\b"
                      r"|\bclick here\b|\bavailable (?:here|online|at)\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9][\w'’]*(?:-[\w'’]+)*")


def _head_terms(words: list[str]) -> set[str]:
    """Content words from the start of ``words`` up to the first function word (after skipping a
    leading "of the"/"of these"): the noun phrase a count applies to."""
    i = 0
    while i < len(words) and words[i] in ("of", "the", "these", "those", "its", "their", "a"):
        i += 1
    out: set[str] = set()
    for w in words[i:i + 5]:
        parts = [p for p in re.split(r"[-'’]", w) if p]
        if w in _COUNT_GENERIC:
            continue
        if w in STOPWORDS:
            break
        out.update(_stem(p) for p in parts if p not in STOPWORDS and p not in ("s",))
    return out


_COUNT_GENERIC = {"other", "more", "own", "additional", "extra", "separate", "different", "total"}


def counted_terms(question: str) -> set[str]:
    """For "how many X ..." / "number of X", the stems of X (empty if none is found)."""
    words = [w.lower() for w in _WORD.findall(question)]
    for i, w in enumerate(words):
        if w == "how" and i + 1 < len(words) and words[i + 1] == "many":
            return _head_terms(words[i + 2:])
        if w == "number" and i + 1 < len(words) and words[i + 1] == "of":
            return _head_terms(words[i + 2:])
    return set()


def number_heads(sentence: str) -> list[tuple[str, set[str]]]:
    """Each count in the sentence (years left out) with the stems of the noun phrase after it."""
    out = []
    for m in _NUM.finditer(sentence):
        n = m.group(0).rstrip(".,")
        if _YEAR.fullmatch(n):
            continue
        after = [w.lower() for w in _WORD.findall(sentence[m.end():m.end() + 80])]
        out.append((n, _head_terms(after)))
    return out


_Q_PERSON = re.compile(r"^\s*who (?:is|was) the\b|\bname of the (?:person|officer|inspector|chief|"
                       r"commissioner|police and crime commissioner|pcc)\b", re.I)
_ORG_WORDS = re.compile(r"\b(?:Commission|Inspectorate|Service|Office|Police|Council|Constabulary|"
                        r"Department|Agency|Authority|Board|Partnership|Ofsted|HMICFRS|Government|"
                        r"Ministry|Home|Court|Unit|Trust|Panel|Majesty|Majesty’s|Majesty's|"
                        r"Inspection|Inspections|Report|Commissioner|Crime)\b")
_TITLE = re.compile(r"^(?:Sir|Dame|Dr|Mr|Mrs|Ms|Miss|Lord|Lady|Professor)\.?$")
# A run of capitalised words, allowing "of"/"the"/"and" and initials inside it.
_CAPS_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|and|for)\s+)?[A-Z][\w’'.-]*)*")
# "What key themes did ..." asks for the themes themselves: a sentence that only names them
# ("the key themes identified by the evidence") does not answer it.
_Q_LIST_NOUN = re.compile(r"^\s*(?:what|which)\s+(?:[a-z-]+\s+){0,2}?([a-z-]+s)\s+(?:did|do|does|"
                          r"were|was|are|is|has|have|had|will|would|can|should|must)\b", re.I)
_ENUMERATES = re.compile(r"^\W*(?:\w+\W+){0,2}?(?::|include|including|such as|are|were|was|is|"
                         r"namely|comprise|comprising|cover|covered|\u2014|-)", re.I)


def _is_person_name(sentence: str, question: str) -> bool:
    """A personal name: a run of 2-4 capitalised words (or a title and a name) that names no
    organisation, is not an acronym, and is not already in the question."""
    q = normalize(question)
    for m in _CAPS_RUN.finditer(sentence):
        words = m.group(0).split()
        if _TITLE.match(words[0]) and len(words) >= 2 and normalize(m.group(0)) not in q:
            return True
        if m.start() == 0 and len(words) < 3:
            continue  # a sentence's first word is capitalised anyway
        if _ORG_WORDS.search(m.group(0)) or normalize(m.group(0)) in q:
            continue
        named = [w for w in words if w[0].isupper() and not w.isupper()]
        if len(named) >= 2 and len(words) <= 4 or (_TITLE.match(words[0]) and len(words) >= 2):
            return True
    return False


# Nouns whose mere mention ("the key themes identified by the evidence") does not give them.
_CONTENT_NOUNS = re.compile(r"^(?:findings|themes|recommendations|challenges|conclusions|issues|"
                            r"lessons|priorities|risks|concerns|causes|results|outcomes|"
                            r"points|messages|improvements|failings|weaknesses|strengths)$", re.I)
_Q_WHAT_ARE = re.compile(r"^\s*(?:what|which) (?:are|were) (?:the )?(?:[a-z-]+\s+){0,2}?([a-z-]+s)\b",
                         re.I)
_Q_SAID = re.compile(r"\bwhat did (?:the )?[\w’' ]{1,40}? (?:say|said|state|respond|think|reply|"
                     r"announce|conclude)\b", re.I)
_REPORTING = re.compile(r"\b(?:said|says|stated|states|responded|responds|commented|welcomed|"
                        r"welcomes|accepted|accepts|rejected|announced|told|argued|noted|agreed|"
                        r"concluded|replied|believes|believed)\b", re.I)
_Q_FUTURE = re.compile(r"\bwill\b|\bnext\b|\bupcoming\b|\bin future\b|\bin the future\b", re.I)
_FUTURE = re.compile(r"\bwill\b|\bplan(?:s|ned)?\b|\bnext\b|\bdue\b|\bintends?\b|\bexpect\w*\b|"
                     r"\bforthcoming\b|\bupcoming\b|\bfuture\b|\bgoing to\b", re.I)


def _names_without_content(sentence: str, question: str) -> bool:
    """True when the question asks "what <things>" and the sentence mentions those things only
    by name, with no list or definition after them."""
    m = _Q_LIST_NOUN.search(question)
    m2 = _Q_WHAT_ARE.search(question)
    if m2 and _CONTENT_NOUNS.match(m2.group(1)):
        m = m2
    if not m:
        return False
    stem = _stem(m.group(1).lower())
    for w in _WORD.finditer(sentence):
        if _stem(w.group(0).lower()) == stem:
            return not _ENUMERATES.match(sentence[w.end():w.end() + 40])
    return False


def _wrong_kind(sentence: str, question: str) -> bool:
    """Sentences that cannot answer the question whatever words they share with it."""
    if _POINTER.search(sentence) and not _Q_WHERE.search(question):
        return True  # "can be viewed here" says nothing about the content
    if _Q_SAID.search(question) and not _REPORTING.search(sentence):
        return True  # "what did X say" needs someone saying something
    if _Q_FUTURE.search(question) and not _FUTURE.search(sentence):
        return True  # "when will the next report be published" needs a future event
    return _names_without_content(sentence, question)


def question_type(question: str) -> str | None:
    if _Q_PERSON.search(question):
        return "person"
    if _Q_ACRONYM.search(question):
        return "acronym"
    if _Q_MONEY.search(question):
        return "money"
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


def content_words(text: str) -> dict[str, str]:
    """Stem -> the first surface word with that stem, for the text's content words."""
    out: dict[str, str] = {}
    for w in re.findall(r"\w\w+", normalize(text)):
        if w not in STOPWORDS:
            out.setdefault(_stem(w), w)
    return out


def content_terms(text: str) -> list[str]:
    return list(content_words(text))


def _is_list_item(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return bool(re.fullmatch(r"[ \t]*(?:[•\u2022\u25aa\u25cf·\-\*]|\d{1,2}[.)])[ \t]*",
                             text[line_start:start]))


_THIS_REPORT = re.compile(r"\b(?:this|the new|the latest|the current|the present) (?:report|thematic|"
                          r"document|review)\b", re.I)


def _year_conflict(sentence: str, question: str, title: str = "") -> bool:
    """The sentence is dated to other years than the question's: named ("the 2019 report"),
    or implied by "this report" and the document's title ("... Inspections 2019")."""
    asked = set(_YEAR.findall(question))
    if not asked and _THIS_REPORT.search(question):
        asked = set(_YEAR.findall(title))
    said = set(_YEAR.findall(sentence))
    return bool(asked and said and not asked & said)


_ANAPHOR = re.compile(r"^(?:These|This|They|It|Such|Those|Its|Their|The latter|The former)\b")


def has_type(sentence: str, qtype: str | None, question: str) -> bool:
    """Whether the sentence holds the kind of fact the question asks for."""
    if _wrong_kind(sentence, question):
        return False
    if qtype == "person":
        return _is_person_name(sentence, question)
    if qtype == "acronym":
        m = _Q_ACRONYM.search(question)
        acro = (m.group(1) or m.group(2)).upper()
        return bool(re.search(rf"\({re.escape(acro)}s?\)|\b{re.escape(acro)}\s*\(", sentence))
    if qtype == "money":
        return bool(_MONEY.search(sentence))
    if qtype == "number":
        want = counted_terms(question)
        q = normalize(question)
        for n, heads in number_heads(sentence):
            if re.search(rf"\b{re.escape(n.lower())}\b", q):
                continue
            if not want or heads & want:
                return True
        return False
    if qtype == "date":
        # A year named in the question anchors it: "the 2019 report" is not "the first report".
        anchors = set(_YEAR.findall(question))
        if anchors and not anchors & set(_YEAR.findall(sentence)):
            return False
        new = set(_YEAR.findall(sentence)) - anchors
        return bool(new or re.search(_MONTHS, sentence, re.I))
    if qtype == "name":
        q = normalize(question)
        if re.search(r"\bwhich forces?\b", question, re.I):
            # A police force is named as "X Police" or "X Constabulary".
            return bool(re.search(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)* (?:Police|Constabulary)\b",
                                  sentence))
        caps = re.findall(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z’']+", sentence)
        return any(c.lower() not in q for c in caps)
    return True


def lead_fact(sentence: str, qtype: str | None, question: str) -> str | None:
    """The number or year the question asks for, when the sentence holds exactly one candidate."""
    q = normalize(question)
    if qtype == "date":
        years = [y for y in dict.fromkeys(_YEAR.findall(sentence)) if y not in q]
        return years[0] if len(years) == 1 else None
    if qtype == "acronym":
        m = _Q_ACRONYM.search(question)
        acro = (m.group(1) or m.group(2)).upper()
        found = re.search(rf"((?:[\w’'-]+\s+){{{len(acro)}}})\({re.escape(acro)}s?\)", sentence)
        if found:
            words = found.group(1).split()
            if [w[0].upper() for w in words] == list(acro):
                return " ".join(words)
        return None
    if qtype != "number":
        return None
    want = counted_terms(question)
    cands = [n for n, heads in number_heads(sentence)
             if not re.search(rf"\b{re.escape(n.lower())}\b", q) and (not want or heads & want)]
    return cands[0] if len(set(cands)) == 1 else None


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


class ExtractiveAnswerer:
    def __init__(self, store, threshold: float, max_sentences: int = 3,
                 w_dense: float = 0.3, w_lexical: float = 0.1, w_lexical_all: float = 0.3,
                 type_bonus: float = 0.05, type_penalty: float = 0.5, margin: float = 0.05,
                 embedder=None,
                 soft_min: float = 0.55, year_penalty: float = 0.1) -> None:
        self.store = store
        self.embedder = embedder
        self.soft_min = soft_min
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

    def score_sentences(self, question: str, qvec: np.ndarray, chunk_indices: list[int]
                        ) -> list[Scored]:
        store = self.store
        qwords = content_words(question)
        weights = {t: self.idf(t) for t in qwords}
        unknown = {t: w for t, w in qwords.items() if not self.known(t)}
        known_total = sum(w for t, w in weights.items() if t not in unknown) or 1.0
        all_total = sum(weights.values()) or 1.0
        qtype = question_type(question)
        out: list[Scored] = []
        for ci in chunk_indices:
            chunk = store.chunks[ci]
            doc_text = store.documents[chunk.doc_id].text
            base = store.sentence_offsets[ci]
            sims = store.sentence_vectors[base:base + len(chunk.sentences)] @ qvec
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
                    if t in words or (len(t) >= 5 and any(
                            x.startswith(t) or (len(x) >= 5 and t.startswith(x)) for x in words)):
                        matched += w
                soft = self._soft_matches(unknown, words)
                soft_mass = sum(weights[t] * sim for t, sim in soft.items())
                type_ok = has_type(sent, qtype, question)
                conflict = _year_conflict(sent, question, chunk.title)
                sc = Scored(ci, j, s, e, 0.0, float(sims[j]),
                            min(1.0, (matched - sum(weights[t] for t in unknown if t in words))
                                / known_total),
                            type_ok, min(1.0, (matched + soft_mass) / all_total), qtype,
                            conflict)
                sc.score = self.combine(sc)
                out.append(sc)
        out.sort(key=lambda x: -x.score)
        return out

    def combine(self, sc: Scored) -> float:
        score = (self.w_dense * sc.dense + self.w_lexical * sc.coverage
                 + self.w_lexical_all * sc.coverage_all)
        if sc.qtype:
            score += self.type_bonus if sc.type_ok else -self.type_penalty
        elif not sc.type_ok:
            score -= self.type_penalty
        if sc.year_conflict:
            score -= self.year_penalty
        return score

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
