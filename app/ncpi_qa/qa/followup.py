"""Follow-up questions, answered with the conversation as context (no LLM, no rewriting).

A question that leans on what was asked before ("When did they start?", "And by 1900?",
"Under whose reign?") is not rewritten by putting a word in place of its pronoun. It is
searched as it was asked, *with what the previous turn was about*: that turn's question,
its answer and the passages it cited (``Context``). ``QA.ask(question, history=[...])``
(qa/pipeline.py) uses the context three ways: the question's vector is blended with the
previous turn's, BM25 also counts the previous turn's words, and the passages that turn
cited (and their documents) rank a little higher; the answerer then also counts the
previous question's subject words as the question's own. The blend weights were fitted on
the follow-up development set over SQuAD ``fit``/``calib`` articles (evals/README.md), never on
the sets the figures are reported on.

A question that stands on its own is searched exactly as without history: ``leans_on_history``
decides from general English alone (pronouns, an opening "and"/"what about", a fragment of
at most one content word), with no word list fitted to any document.

History items are ``schema.Turn``s (the chat's, an ``ask --session`` file's) or ``Answer``s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ncpi_qa import schema
from ncpi_qa.ingest.text import STOPWORDS
from ncpi_qa.qa.question import content_words
from ncpi_qa.schema import Answer, Turn

__all__ = ["Context", "Earlier", "context_for", "earlier", "leans_on_history"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
# Third-person pronouns and possessives: what a question uses for something named before.
PRONOUNS = frozenset(
    "it its itself they them their theirs themselves he him his himself she her hers "
    "herself".split()
)
DEMONSTRATIVES = frozenset({"this", "that", "these", "those"})
# Words that point back at something said before: "such engines", "the same year", "then".
REFERRING = frozenset({"such", "same", "former", "latter", "then"})
# Function words the stopword list lacks, not counted as a fragment's content: "Under whose
# reign?" has one content word.
_FUNCTION = frozenset({"whose", "else"})
# A question that opens like this continues the previous one: "And by 1900?", "What about X?"
OPENERS = frozenset({"and", "but", "also", "so", "then", "or"})
_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\b", re.I)
MAX_FRAGMENT_WORDS = 1  # "Under what name?", "Of what?", "Why?": too little to stand alone
MAX_ANSWER_WORDS = 4  # a longer answer is a list or a description, not what "it" stands for


def _words(text: str) -> list[str]:
    return _WORD.findall(text or "")


def leans_on_history(question: str) -> bool:
    """Whether ``question`` needs the conversation to be understood: it has a third-person
    pronoun, a demonstrative ("that parish", "when did this start") or a word that points
    back ("such engines", "then"), opens like a
    continuation ("and", "what about"), or is a fragment of at most one content word and
    no name ("Under what name?", "Why?").
    General English only: the same rules for every document."""
    words = [w.lower() for w in _words(question)]
    if not words:
        return False
    if words[0] in OPENERS or _ABOUT.match(question):
        return True
    if any(w in PRONOUNS or w in DEMONSTRATIVES or w in REFERRING for w in words):
        return True
    names = [w for w in _words(question)[1:] if w[0].isupper()]  # a capitalised name: it stands
    content = [w for w in content_words(question).values() if w not in _FUNCTION]
    return not names and len(content) <= MAX_FRAGMENT_WORDS


@dataclass(frozen=True)
class Earlier:
    """What a follow-up can lean on from one earlier turn."""

    question: str
    answer: str = ""  # the answer's lead (the reader's span), "" when it declined or had none
    quotes: tuple[str, ...] = ()  # the cited sentences
    doc_ids: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()
    after: tuple[str, ...] = ()  # the questions this turn was itself asked after (a chain)


def earlier(item: Turn | Answer) -> Earlier | None:
    """What a follow-up can lean on from an earlier ``Turn`` or ``Answer`` (None for a turn
    that failed or asked nothing)."""
    turn = Turn.from_answer(item) if isinstance(item, Answer) else item
    if not turn.question.strip() or turn.error:
        return None
    cites = [] if turn.abstained else turn.citations
    return Earlier(
        question=turn.question.strip(),
        answer=cites[0].span_text if cites else "",
        quotes=tuple(c.quote for c in cites),
        doc_ids=tuple(dict.fromkeys(c.doc_id for c in cites if c.doc_id)),
        chunk_ids=tuple(dict.fromkeys(c.chunk_id for c in cites if c.chunk_id)),
        after=tuple(turn.context.questions) if turn.context else (),
    )


@dataclass(frozen=True)
class Context:
    """What a follow-up is searched with, besides its own words."""

    questions: tuple[str, ...]  # the earlier questions it leans on, newest first
    text: str  # embedded and blended into the question's vector
    words: str  # added to the BM25 query
    subject: tuple[str, ...]  # stems the answerer counts as the question's own
    subject_words: tuple[str, ...] = ()  # the same, as written
    doc_ids: tuple[str, ...] = ()
    chunk_ids: tuple[str, ...] = ()
    answers: tuple[str, ...] = field(default=(), repr=False)

    def describe(self) -> str:
        """One sentence for people: what the follow-up was searched with."""
        quoted = " and ".join(f"“{q}”" for q in self.questions[:2])
        return f"Searched with the earlier question {quoted} as context."

    def public(self) -> schema.Context:
        """What the answer says it was searched with (``Answer.context``)."""
        return schema.Context(
            questions=list(self.questions),
            answers=list(self.answers),
            doc_ids=list(self.doc_ids),
            chunk_ids=list(self.chunk_ids),
            note=self.describe(),
        )


def _referent(turn: Earlier, max_words: int) -> str:
    """The turn's answer when it is short enough to be what a pronoun stands for (a name, a
    date, a noun phrase: "Thomas Newcomen"), else "" (a list or a description)."""
    return turn.answer if 0 < len(_words(turn.answer)) <= max_words else ""


def _subject(turn: Earlier, max_answer_words: int) -> dict[str, str]:
    """The stems of what ``turn`` was about: its question's content words and its answer's
    (what "he" after "Who designed it?" stands for). The words that only say what was asked
    ("begin", "called") do not appear in what it cited, so they are left out when it cited
    something."""
    q_words = content_words(turn.question)
    if turn.quotes:
        cited = set(content_words(" ".join(turn.quotes)))
        q_words = {s: w for s, w in q_words.items() if s in cited} or q_words
    a_words = content_words(_referent(turn, max_answer_words))
    return {**q_words, **a_words}


def context_for(
    question: str,
    history: list[Turn | Answer],
    depth: int = 2,
    max_answer_words: int = MAX_ANSWER_WORDS,
) -> Context | None:
    """The context a follow-up is searched with, or None when ``question`` stands on its
    own or there is nothing earlier to lean on. ``history`` is oldest first; the newest
    turn counts, and the turn before it too when the newest was itself a follow-up."""
    if not leans_on_history(question):
        return None
    turns = [t for t in (earlier(h) for h in history or []) if t is not None]
    if not turns:
        return None
    used = [turns[-1]]
    while len(used) < depth and used[-1].after and len(turns) > len(used):
        used.append(turns[-1 - len(used)])
    newest = used[0]
    answer = _referent(newest, max_answer_words)
    text = " ".join(x for x in (newest.question, answer) if x)
    before = " ".join(t.question for t in used[1:])
    words = " ".join(x for x in (newest.question, answer, before) if x)
    own = set(content_words(question))
    subject: dict[str, str] = {}
    for t in used:
        found = _subject(t, max_answer_words).items()
        subject.update({s: w for s, w in found if s not in own and s not in subject})
    return Context(
        questions=tuple(t.question for t in used),
        text=f"{text} {before}".strip(),
        words=" ".join(w for w in _words(words) if w.lower() not in STOPWORDS),
        subject=tuple(subject),
        subject_words=tuple(subject.values()),
        doc_ids=tuple(dict.fromkeys(d for t in used for d in t.doc_ids)),
        chunk_ids=tuple(dict.fromkeys(c for t in used for c in t.chunk_ids)),
        answers=tuple(a for a in (_referent(t, max_answer_words) for t in used) if a),
    )
