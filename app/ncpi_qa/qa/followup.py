"""Follow-up questions resolved against the conversation, with rules only (no LLM).

"What are joint targeted area inspections?" then "When did they start?" is searched as
"When did joint targeted area inspections start?"; "When did HMICFRS begin its inspections?"
then "and the PCC?" is searched as "When did the PCC begin its inspections?".

``resolve(question, history)`` returns the rewritten question, or None when the question
stands on its own (or nothing earlier can fill the gap). ``history`` holds the earlier
questions, oldest first, preferably as they were searched, so chains of follow-ups work.
"""

from __future__ import annotations

import re

__all__ = ["resolve", "main_phrase"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_PRONOUNS = {"they", "them", "it", "this", "that", "these", "those", "he", "she", "him"}
_POSSESSIVES = {"their", "its", "his", "her"}
_DEMONSTRATIVES = {"this", "that", "these", "those"}
_QWORDS = {"what", "who", "whom", "which", "when", "where", "why", "how", "whose"}
_AUX = {
    "is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could",
    "will", "would", "should", "may", "might", "must", "be", "been",
}  # fmt: skip
_STOP = _QWORDS | _AUX | _PRONOUNS | _POSSESSIVES | {
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "about", "from",
    "and", "or", "not", "no", "many", "much", "long", "often", "there", "any", "all", "some",
    "say", "said", "says", "mean", "means", "start", "started", "begin", "began", "happen",
    "find", "found", "do", "does", "make", "made", "out", "up", "over", "into", "than", "as",
    "carry", "carries", "carried", "what's", "who's", "kind", "type", "sort", "year", "date",
}  # fmt: skip
# "and the PCC?", "what about the PCC?", "how about HMICFRS?", "the PCC?"
_ELLIPSIS = re.compile(
    r"^\s*(?:and|but|also|so)?\s*(?:what|how)?\s*(?:about)?\s*(?P<np>[^?]*?)\s*\??\s*$",
    re.I,
)
_WHAT_IS = re.compile(r"^\s*(?:what|who|which)\s+(?:is|are|was|were)\s+(?P<np>.+?)\s*\??\s*$", re.I)
_DEFINITE = re.compile(r"^(?:the|a|an)\s+", re.I)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _content(words: list[str]) -> list[str]:
    return [w for w in words if w.lower() not in _STOP]


def _is_name(word: str) -> bool:
    """An acronym (PCC, HMICFRS, JTAI) or a capitalised word."""
    return len(word) > 1 and (word.isupper() or word[0].isupper())


def main_phrase(question: str) -> str | None:
    """The noun phrase a question is about: what a later "they"/"it" most likely means.

    "What are X?" -> X; otherwise the longest run of names (acronyms and capitalised words
    after the first word); otherwise the longest run of content words.
    """
    m = _WHAT_IS.match(question)
    if m:
        np = m.group("np").strip()
        if _content(_words(np)):
            return np
    words = _words(question)
    runs: list[list[str]] = []
    run: list[str] = []
    for i, w in enumerate(words):
        if i > 0 and _is_name(w) and w.lower() not in _STOP:
            run.append(w)
        else:
            if run:
                runs.append(run)
            run = []
    if run:
        runs.append(run)
    if runs:
        best = max(runs, key=len)
        return " ".join(best)
    runs, run = [], []
    for w in words:
        if w.lower() in _STOP:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(w)
    if run:
        runs.append(run)
    if not runs:
        return None
    return " ".join(max(runs, key=len))


def _phrase_for_pronoun(phrase: str) -> str:
    """How the phrase reads in place of a pronoun: as it was written (no per-acronym list
    of which ones take "the")."""
    return phrase


def _is_determiner(word: str, rest: str) -> bool:
    """'this'/'that'/... followed by a content word ("this report") is a determiner."""
    if word.lower() not in _DEMONSTRATIVES:
        return False
    following = _words(rest[:40])
    if not following:
        return False
    nxt = following[0].lower()
    verbish = nxt.endswith("ed") or nxt in {"done", "mean", "end", "work", "change", "apply"}
    return nxt not in _STOP and not verbish


def _substitute_pronouns(question: str, phrase: str) -> str | None:
    target = _phrase_for_pronoun(phrase)
    changed = False

    def pronoun(m: re.Match) -> str:
        nonlocal changed
        if _is_determiner(m.group(1), m.string[m.end() :]):
            return m.group(0)  # "this report": not a pronoun
        changed = True
        return target

    def possessive(m: re.Match) -> str:
        nonlocal changed
        changed = True
        return f"the {m.group(2)} of {target}"

    out = re.sub(
        r"\b(" + "|".join(sorted(_POSSESSIVES)) + r")\s+([A-Za-z][\w\-]*)",
        possessive,
        question,
        flags=re.I,
    )
    out = re.sub(r"\b(" + "|".join(sorted(_PRONOUNS)) + r")\b", pronoun, out, flags=re.I)
    return out if changed else None


def _stands_alone(question: str) -> bool:
    """A question with its own names or enough content words needs no context."""
    words = _words(question)
    names = [w for w in words[1:] if _is_name(w) and w.lower() not in _STOP]
    return bool(names) or len(_content(words)) >= 4


def resolve(question: str, history: list[str]) -> str | None:
    """The question as it should be searched, or None when it needs no rewriting."""
    q = (question or "").strip()
    previous = next((h.strip() for h in reversed(history or []) if h and h.strip()), None)
    if not q or previous is None:
        return None
    words = _words(q)
    lowered = [w.lower() for w in words]
    if not words:
        return None

    # Elliptical: "and the PCC?", "what about the PCC?" -> the previous question about it.
    starts_elliptical = lowered[0] in {"and", "but", "also"} or (
        len(lowered) >= 2 and lowered[0] in {"what", "how"} and lowered[1] == "about"
    )
    if starts_elliptical:
        m = _ELLIPSIS.match(q)
        np = (m.group("np") if m else "").strip(" ,.")
        np_words = _words(np)
        if np_words and len(np_words) <= 6 and not (set(w.lower() for w in np_words) & _QWORDS):
            old = main_phrase(previous)
            if old and re.search(re.escape(old), previous, flags=re.I):
                new_np = np
                # keep the previous question's article: "the PCC" replaces "HMICFRS" as is
                rewritten = re.sub(re.escape(old), lambda _m: new_np, previous, count=1, flags=re.I)
                rewritten = re.sub(r"\bthe the\b", "the", rewritten, flags=re.I)
                if rewritten.strip().lower() != previous.strip().lower():
                    return rewritten

    has_pronoun = any(
        (w in _PRONOUNS and not _is_determiner(w, " ".join(lowered[i + 1 :]))) or w in _POSSESSIVES
        for i, w in enumerate(lowered)
    )
    if not has_pronoun or _stands_alone(q):
        return None
    phrase = main_phrase(previous)
    if not phrase:
        return None
    phrase = _DEFINITE.sub("the ", phrase) if phrase.lower().startswith("the ") else phrase
    out = _substitute_pronouns(q, phrase)
    if out is None or out == q:
        return None
    return out[0].upper() + out[1:]
