"""Text utilities: normalisation, sentence spans with exact offsets, and finding quotes."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import sentencex

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'"})


def normalize(text: str) -> str:
    """Unicode NFKC, lower case, curly quotes to straight, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return re.sub(r"\s+", " ", text).strip()


# The in-line decision (where a full stop ends a sentence) is sentencex's, Wikimedia's rule
# segmenter: measured against the hand-made rule it replaced on hand-written hard cases and
# SQuAD answers (docs/segmenter.md, tools/bench/bench_segmenters.py). Two general corrections
# are kept on top of it, both measured there: a stop after a word that never ends a sentence
# (a title, "e.g.", "i.e.", or a reference prefix before its number: "para. 4.2", "pp. 26",
# "No. 3") is not an end, and a sentence in brackets ends at its closing bracket.
_NEVER_FINAL = {"mr", "mrs", "ms", "dr", "prof", "rt", "hon", "e.g", "i.e", "cf", "vs", "viz"}
_BEFORE_NUMBER = {
    *("no nos para paras p pp vol vols ch chap sec s ss art arts fig figs reg regs r rr").split(),
    *("ca c approx n nn").split(),
}
_CLOSERS = "\"'\u201d\u2019)]"
_BRACKET_END = re.compile(r"[.!?][\"'\u201d\u2019]?\)(?=\s+[\"'\u201c\u2018(]?[A-Z])")
_BULLET = re.compile(
    r"[ \t]*(?:[•\u2022\u25aa\u25cf\u2013\-\*·]|\(?[0-9]{1,2}[.)]"
    r"|\(?(?:[a-z]|[ivx]{1,4})[.)])[ \t]+"
)
_LIST_ITEM = re.compile(
    r"[ \t]*(?:[•\u2022\u25aa\u25cf·\-\*]|[0-9]{1,2}[.)]|\(?(?:[a-z]|[ivx]{1,4})\))[ \t]+"
)


def _hard_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut at blank lines, list items, and short unpunctuated lines before a capitalised line
    (headings inside a block, as PDF text gives them); wrapped lines stay together."""
    lines, i = [], start
    while True:
        j = text.find("\n", i, end)
        lines.append((i, end if j == -1 else j))
        if j == -1:
            break
        i = j + 1
    pieces, seg = [], start
    for (ps, pe), (ls, le) in zip(lines, lines[1:], strict=False):
        prev, line = text[ps:pe].strip(), text[ls:le]
        if (
            not prev
            or not line.strip()
            or _LIST_ITEM.match(line)
            or (len(prev) <= 60 and prev[-1] not in ".,;:!?" and line.lstrip()[:1].isupper())
        ):
            pieces.append((seg, pe))
            seg = ls
    pieces.append((seg, end))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _strip_bullet(text: str, start: int, end: int) -> int:
    m = _BULLET.match(text, start, end)
    # Only treat "a." / "1." as a bullet when it is followed by more text.
    return m.end() if m and m.end() < end else start


def _segmenter_ends(text: str, start: int, end: int) -> list[int]:
    """sentencex's sentence ends in ``text[start:end]`` as offsets into ``text``. Its spans are
    character offsets; each is checked against its text and, should one not match (a future
    version that alters the text), the sentence is found by its words instead."""
    ends, cur = [], start
    for b in sentencex.get_sentence_boundaries("en", text[start:end]):
        piece = b["text"]
        s, e = start + b["start_index"], start + b["end_index"]
        if text[s:e] != piece:
            words = piece.split()
            if not words:
                continue
            m = re.compile(r"\s*".join(map(re.escape, words))).search(text, cur, end)
            if not m:
                continue
            e = m.end()
        ends.append(e)
        cur = e
    return ends


def _last_word(text: str, start: int, end: int) -> str:
    """The word that a full stop at the end of ``text[start:end]`` follows, lower case and
    without its final stop ("para", "e.g", "u.s"); "" when the text ends otherwise."""
    tail = text[start:end].rstrip().rstrip(_CLOSERS)
    if not tail.endswith("."):
        return ""
    words = tail[:-1].split()
    return words[-1].lstrip("([\"'\u201c\u2018").lower() if words else ""


def _inline_ends(text: str, start: int, end: int) -> list[int]:
    """Where sentences end inside one block (no list items or blank lines in it): the
    segmenter's ends, less those after a word that never ends a sentence, plus the ends of
    sentences in brackets."""
    ends = set()
    for e in _segmenter_ends(text, start, end):
        if e >= end or not text[start:e].strip():
            continue
        token = _last_word(text, max(start, e - 40), e)
        nxt = text[e:end].lstrip()[:1]
        if token in _NEVER_FINAL or (token in _BEFORE_NUMBER and nxt.isdigit()):
            continue
        ends.add(e)
    ends.update(m.end() for m in _BRACKET_END.finditer(text, start, end))
    return sorted(ends)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split text[start:end] into sentence spans ``[s, e)`` with exact offsets into ``text``.

    List items (a line starting with a bullet, a number or a letter in brackets) are sentences
    of their own, and their marker is left out of the span; blank lines always end a sentence,
    and so does a short line without a full stop before a capitalised one (a heading). Inside
    a block, the sentence ends are sentencex's (see ``_inline_ends``).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for ps, pe in _hard_pieces(text, start, end):
        ps, pe = _trim(text, ps, pe)
        if ps >= pe:
            continue
        s = _strip_bullet(text, ps, pe)
        for e in [*_inline_ends(text, s, pe), pe]:
            a, b = _trim(text, s, e)
            if a < b:
                spans.append((a, b))
            s = e
    return spans


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)  # NLTK's English list (its contractions aside): general, not fitted to any question set


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of normalised text (stopwords kept)."""
    return _TOKEN.findall(normalize(text))


@lru_cache(maxsize=32)
def _flat(haystack: str) -> tuple[str, tuple[int, ...]]:
    """The normalised text with whitespace runs collapsed, and each character's offset in
    ``haystack`` (cached: the evals look up many quotes in the same few documents)."""
    chars: list[str] = []
    index: list[int] = []
    prev_space = True
    for i, ch in enumerate(haystack):
        for c in normalize(ch) if not ch.isspace() else " ":
            if c == " ":
                if prev_space:
                    continue
                prev_space = True
            else:
                prev_space = False
            chars.append(c)
            index.append(i)
    return "".join(chars), tuple(index)


def find_normalized(haystack: str, needle: str) -> tuple[int, int] | None:
    """Find ``needle`` in ``haystack`` ignoring case, quote style and whitespace.

    Returns the ``[start, end)`` span in the original ``haystack``, or None.
    """
    target = normalize(needle)
    if not target:
        return None
    flat, index = _flat(haystack)
    pos = flat.find(target)
    if pos < 0:
        return None
    return index[pos], index[pos + len(target) - 1] + 1


# A contents line: a title, a dot (or other) leader, a page number at the end.
_TOC_LEADER = re.compile(
    r"\S.*?(?:\s*(?:\.\s*){4,}|\s*…+\s*|\s*[_·]{4,}\s*)[0-9ivxlcdm]{1,5}\s*$", re.I
)
_TOC_NUMBER = re.compile(r"[^\s•].{0,110}?[A-Za-z)]\s+[0-9]{1,4}\s*$")


def is_toc_line(line: str, numbered: bool = False) -> bool:
    """A line of a contents page: a dot leader ending in a page number; with ``numbered``,
    also a short title followed by a page number alone ("Introduction 3")."""
    line = line.strip()
    return bool(_TOC_LEADER.fullmatch(line) or (numbered and _TOC_NUMBER.fullmatch(line)))


# Prefixes written with a hyphen: always ("self-", "non-", "two-"), or before a known word
# or a doubled vowel ("re-evaporation", "co-operate"), as they are also common line breaks.
_HYPHEN_PREFIXES = frozenset(
    "anti cross multi non self semi half one two three four five six seven eight nine ten "
    "eleven twelve twenty thirty forty fifty hundred thousand".split()
)
_SOFT_PREFIXES = frozenset("co counter ex inter over post pre pro re sub under well".split())


def dehyphenate(left: str, right: str, vocab, compounds=frozenset()) -> bool:
    """Whether ``left-`` at a line's end and ``right`` at the next line's start are one word
    broken by the line (join as ``leftright``) rather than a hyphenated compound (keep
    ``left-right``). Decided from the document's own words: ``vocab`` (lower-case words,
    e.g. a Counter) and ``compounds`` (hyphenated words written within a line). A known
    joined word joins; a hyphen prefix ("self", "non", "two") or two known words keep it."""
    lo, ro = left.lower(), right.lower()
    joined, hyphened = lo + ro, f"{lo}-{ro}"
    if hyphened in compounds:
        return False
    if joined in vocab:
        return True
    if right[:1].isupper() or right[:1].isdigit() or left[-1:].isdigit():
        return False  # "pre-Victorian", "COVID-19"
    if lo in _HYPHEN_PREFIXES or (lo in _SOFT_PREFIXES and ro[:1] == lo[-1:]):
        return False  # "self-determination", "two-thirds", "re-evaporation"
    if (lo in vocab or lo in _SOFT_PREFIXES) and len(lo) >= 2 and _known(ro, vocab):
        return False  # two words of the document: a compound ("child-centred", "long-lived")
    return True


def _known(word: str, vocab) -> bool:
    """``word`` or its stem (without -s, -es, -d, -ed, -ing) is one of the document's words."""
    if len(word) < 3:
        return False
    stems = [word] + [word[: -len(e)] for e in ("s", "es", "d", "ed", "ing") if word.endswith(e)]
    return any(len(w) >= 3 and w in vocab for w in stems)
