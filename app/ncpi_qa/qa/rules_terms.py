"""What a question asks for, and whether a sentence can answer it.

Rules read the question's kind (a count of something, a date, money, an acronym, a person,
a name) and reject sentences of the wrong kind: a count of other things, a pointer ("can be
viewed here"), a topic named without its content ("the key themes identified ..."), another
year than the one asked about. Stems come from PyStemmer (Snowball English), offline.
"""

from __future__ import annotations

import re

from ncpi_qa.ingest.text import STOPWORDS, normalize
from ncpi_qa.qa.question import content_words, stem

_NUMBER_WORDS = {
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
    "hundred",
    "thousand",
    "million",
    "dozen",
    "half",
    "third",
    "quarter",
}
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_NUM = re.compile(r"\b\d[\d,.]*%?|\b(?:" + "|".join(sorted(_NUMBER_WORDS)) + r")\b", re.I)
_Q_NUMBER = re.compile(
    r"\bhow (?:many|much)\b|\bwhat (?:number|percentage|proportion|share|total)\b"
    r"|\bnumber of\b|\bcount of\b",
    re.I,
)
_Q_DURATION = re.compile(r"\bhow long\b|\bfor how many (?:days|weeks|months|years)\b", re.I)
_DURATION = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|several|a few)\s+"
    r"(?:hours?|days?|weeks?|months?|years?|minutes?)\b|\bfrom \d{4} to \d{4}\b",
    re.I,
)
_Q_FREQUENCY = re.compile(r"\bhow often\b|\bhow frequently\b", re.I)
_FREQUENCY = re.compile(
    r"\b(?:daily|weekly|monthly|quarterly|annually|yearly|every|each (?:day|week|month|year)|"
    r"times? a|per (?:day|week|month|year)|once|twice)\b",
    re.I,
)
_Q_RATING = re.compile(r"\b(?:rating|rated|grade|graded|judgement|judgment|judged|score)\b", re.I)
_RATING = re.compile(
    r"\b(?:outstanding|good|requires improvement|inadequate|rated|graded|judged|"
    r"rating|grade)\b",
    re.I,
)
_Q_DATE = re.compile(r"\bwhen\b|\b(?:what|which|in what) year\b|\bwhat date\b|\bsince when\b", re.I)
_Q_NAME = re.compile(
    r"\bwhich (?:organi[sz]ations?|agenc(?:y|ies)|bod(?:y|ies)|inspectorates?|(?:police )?forces?|"
    r"partners?)\b|\bwith whom\b|\bname the\b",
    re.I,
)


_Q_MONEY = re.compile(
    r"\bhow much\b.*\b(?:cost|spend|spent|budget|fund|funding|pay|paid|worth)\b"
    r"|\b(?:cost|budget|price)\b",
    re.I,
)
_MONEY = re.compile(r"[£$€]\s?\d|\b\d[\d,.]*\s?(?:million|billion|pounds|m|bn)\b|\bcost\w*\b", re.I)
_Q_ACRONYM = re.compile(
    r"\b(?:what|whats|what's) (?:does|do|is) (?:the )?([A-Za-z&]{2,12}) "
    r"(?:stand for|short for|mean)\b|\bwhat do the letters ([A-Za-z&]{2,12})",
    re.I,
)
_Q_WHERE = re.compile(
    r"\bwhere\b|\bfind\b|\bread\b|\bview\b|\baccess\b|\blink\b|\bsee\b|"
    r"\bavailable\b|\bdownload\b",
    re.I,
)
# Sentences that only point elsewhere ("can be viewed here") say nothing about content.
_POINTER = re.compile(
    r"\b(?:can|may) be (?:viewed|found|read|accessed|downloaded|seen)\b"
    r"|\bclick here\b|\bavailable (?:here|online|at)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9][\w'’]*(?:-[\w'’]+)*")


def _head_terms(words: list[str]) -> set[str]:
    """Content words from the start of ``words`` up to the first function word (after skipping a
    leading "of the"/"of these"): the noun phrase a count applies to."""
    i = 0
    while i < len(words) and words[i] in ("of", "the", "these", "those", "its", "their", "a"):
        i += 1
    out: set[str] = set()
    for w in words[i : i + 5]:
        parts = [p for p in re.split(r"[-'’]", w) if p]
        if w in _COUNT_GENERIC:
            continue
        if w in STOPWORDS:
            break
        out.update(stem(p) for p in parts if p not in STOPWORDS and p not in ("s",))
    return out


_COUNT_GENERIC = {"other", "more", "own", "additional", "extra", "separate", "different", "total"}


def counted_terms(question: str) -> set[str]:
    """For "how many X ..." / "number of X", the stems of X (empty if none is found)."""
    words = [w.lower() for w in _WORD.findall(question)]
    for i, w in enumerate(words):
        if w == "how" and i + 1 < len(words) and words[i + 1] == "many":
            return _head_terms(words[i + 2 :])
        if w == "number" and i + 1 < len(words) and words[i + 1] == "of":
            return _head_terms(words[i + 2 :])
    return set()


def number_heads(sentence: str) -> list[tuple[str, set[str]]]:
    """Each count in the sentence (years left out) with the stems of the noun phrase after it."""
    out = []
    for m in _NUM.finditer(sentence):
        n = m.group(0).rstrip(".,")
        if _YEAR.fullmatch(n):
            continue
        after = [w.lower() for w in _WORD.findall(sentence[m.end() : m.end() + 80])]
        out.append((n, _head_terms(after)))
    return out


_Q_PERSON = re.compile(
    r"^\s*who (?:is|was) the\b|\bname of the (?:person|officer|inspector|chief|"
    r"commissioner|police and crime commissioner|pcc)\b",
    re.I,
)
_ORG_WORDS = re.compile(
    r"\b(?:Commission|Inspectorate|Service|Office|Police|Council|Constabulary|"
    r"Department|Agency|Authority|Board|Partnership|Ofsted|HMICFRS|Government|"
    r"Ministry|Home|Court|Unit|Trust|Panel|Majesty|Majesty’s|Majesty's|"
    r"Inspection|Inspections|Report|Commissioner|Crime)\b"
)
_TITLE = re.compile(r"^(?:Sir|Dame|Dr|Mr|Mrs|Ms|Miss|Lord|Lady|Professor)\.?$")
# A run of capitalised words, allowing "of"/"the"/"and" and initials inside it.
_CAPS_RUN = re.compile(r"[A-Z][\w’'.-]*(?:\s+(?:(?:of|the|and|for)\s+)?[A-Z][\w’'.-]*)*")
# "What key themes did ..." asks for the themes themselves: a sentence that only names them
# ("the key themes identified by the evidence") does not answer it.
_Q_LIST_NOUN = re.compile(
    r"^\s*(?:what|which)\s+(?:[a-z-]+\s+){0,2}?([a-z-]+s)\s+(?:did|do|does|"
    r"were|was|are|is|has|have|had|will|would|can|should|must)\b",
    re.I,
)
_ENUMERATES = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?::|include|including|such as|are|were|was|is|"
    r"namely|comprise|comprising|cover|covered|\u2014|-)",
    re.I,
)


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
_CONTENT_NOUNS = re.compile(
    r"^(?:findings|themes|recommendations|challenges|conclusions|issues|"
    r"lessons|priorities|risks|concerns|causes|results|outcomes|"
    r"points|messages|improvements|failings|weaknesses|strengths)$",
    re.I,
)
_Q_WHAT_ARE = re.compile(
    r"^\s*(?:what|which) (?:are|were) (?:the )?(?:[a-z-]+\s+){0,2}?([a-z-]+s)\b", re.I
)
_Q_SAID = re.compile(
    r"\bwhat did (?:the )?[\w’' ]{1,40}? (?:say|said|state|respond|think|reply|"
    r"announce|conclude)\b",
    re.I,
)
_REPORTING = re.compile(
    r"\b(?:said|says|stated|states|responded|responds|commented|welcomed|"
    r"welcomes|accepted|accepts|rejected|announced|told|argued|noted|agreed|"
    r"concluded|replied|believes|believed)\b",
    re.I,
)
_Q_FUTURE = re.compile(r"\bwill\b|\bnext\b|\bupcoming\b|\bin future\b|\bin the future\b", re.I)
_FUTURE = re.compile(
    r"\bwill\b|\bplan(?:s|ned)?\b|\bnext\b|\bdue\b|\bintends?\b|\bexpect\w*\b|"
    r"\bforthcoming\b|\bupcoming\b|\bfuture\b|\bgoing to\b",
    re.I,
)


def _names_without_content(sentence: str, question: str) -> bool:
    """True when the question asks "what <things>" and the sentence mentions those things only
    by name, with no list or definition after them."""
    m = _Q_LIST_NOUN.search(question)
    m2 = _Q_WHAT_ARE.search(question)
    if m2 and _CONTENT_NOUNS.match(m2.group(1)):
        m = m2
    if not m:
        return False
    target = stem(m.group(1).lower())
    for w in _WORD.finditer(sentence):
        if stem(w.group(0).lower()) == target:
            return not _ENUMERATES.match(sentence[w.end() : w.end() + 40])
    return False


def _wrong_kind(sentence: str, question: str) -> bool:
    """Sentences that cannot answer the question whatever words they share with it."""
    if sentence.rstrip().endswith(":"):
        return True  # "Since then, HMICFRS has:" introduces an answer; its items give it
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
    if _Q_DURATION.search(question):
        return "duration"
    if _Q_FREQUENCY.search(question):
        return "frequency"
    if _Q_RATING.search(question):
        return "rating"
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


def content_terms(text: str) -> list[str]:
    return list(content_words(text))


def _is_list_item(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    return bool(
        re.fullmatch(
            r"[ \t]*(?:[•\u2022\u25aa\u25cf·\-\*]|\d{1,2}[.)])[ \t]*", text[line_start:start]
        )
    )


_THIS_REPORT = re.compile(
    r"\b(?:this|the new|the latest|the current|the present) (?:report|thematic|"
    r"document|review)\b",
    re.I,
)


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
    if qtype == "duration":
        return bool(_DURATION.search(sentence))
    if qtype == "frequency":
        return bool(_FREQUENCY.search(sentence))
    if qtype == "rating":
        return bool(_RATING.search(sentence))
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
        if re.search(r"\bwhich (?:police )?forces?\b", question, re.I):
            # A police force is named as "X Police" or "X Constabulary".
            return bool(
                re.search(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)* (?:Police|Constabulary)\b", sentence)
            )
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
    cands = [
        n
        for n, heads in number_heads(sentence)
        if not re.search(rf"\b{re.escape(n.lower())}\b", q) and (not want or heads & want)
    ]
    return cands[0] if len(set(cands)) == 1 else None
