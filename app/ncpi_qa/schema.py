"""The answer path's typed results, shared by the CLI, the chat app, the evals and llama-index.

question -> Profile (qa.question) -> Passages (qa.retrieve) -> Candidates (qa.answer.score)
-> Answer (qa.answer.decide) -> rendered by apps/cli.py, apps/chat/app.py and evals/run.py.
A Citation's ``label`` is the one place a citation is formatted for people.

A conversation is a list of ``Turn``s: the question and its answer as
shown and kept (by the chat, in a browser tab, in a ``--session`` file); ``QA.ask`` takes
earlier ``Turn``s or ``Answer``s as its history. A follow-up's ``Answer.context`` is a
``Context``: what it was searched with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from ncpi_qa.ingest.chunking import citation_label

if TYPE_CHECKING:  # the index's chunk
    from ncpi_qa.ingest.chunking import Chunk

ABSTAIN_PHRASE = "The documents don't answer this."
# The three tiers of an answer (qa/answer.py decide): each a promise measured by the evals.
#   answer  - asserted: quotes with citations, led by the reader's span when it is the answer;
#   closest - not asserted: the closest passage, quoted and cited, under CLOSEST_PHRASE;
#   none    - nothing relevant: ABSTAIN_PHRASE, no citations, the closest passages kept in
#             Answer.passages and shown under the answer.
TIERS = ("answer", "closest", "none")
CLOSEST_PHRASE = "The documents may not say this directly; the closest passage is"


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: ``quote == document text[start:end]`` exactly."""

    n: int
    doc_id: str
    title: str
    section: str
    page: int | None
    quote: str
    start: int
    end: int
    score: float
    chunk_id: str
    span: tuple[int, int] | None = None  # the reader's answer inside the quote (doc offsets)

    @property
    def label(self) -> str:
        return citation_label(self.title, self.section, self.page)

    @property
    def span_text(self) -> str | None:
        if not self.span:
            return None
        return self.quote[self.span[0] - self.start : self.span[1] - self.start] or None

    def to_dict(self) -> dict:
        d = {**asdict(self), "label": self.label}
        d["span"] = list(self.span) if self.span else None
        return d


@dataclass
class Passage:
    """A retrieved chunk with the scores that ranked it: it wraps the index's ``Chunk`` (as
    llama-index's ``NodeWithScore`` wraps a node) rather than copying its fields."""

    chunk_index: int
    chunk: Chunk
    score: float  # the fused score (or the single mode's)
    dense: float | None = None  # cosine similarity to the question
    bm25: float | None = None
    dense_rank: int | None = None
    bm25_rank: int | None = None

    chunk_id = property(lambda self: self.chunk.chunk_id)
    doc_id = property(lambda self: self.chunk.doc_id)
    title = property(lambda self: self.chunk.title)
    section = property(lambda self: self.chunk.section)
    page = property(lambda self: self.chunk.page)
    start = property(lambda self: self.chunk.start)
    end = property(lambda self: self.chunk.end)
    text = property(lambda self: self.chunk.text)

    @property
    def label(self) -> str:
        return citation_label(self.title, self.section, self.page)

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "chunk_id": c.chunk_id,
            "doc_id": c.doc_id,
            "title": c.title,
            "section": c.section,
            "page": c.page,
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "score": round(self.score, 6),
            "dense": self.dense,
            "bm25": None if self.bm25 is None else round(self.bm25, 4),
            "dense_rank": self.dense_rank,
            "bm25_rank": self.bm25_rank,
            "similarity": None if self.dense is None else round(self.dense, 4),
            "label": self.label,
        }


@dataclass
class Candidate:
    """A sentence of a retrieved passage, scored as the answer: ``score`` is the final
    scorer's logit (higher: more likely it holds the answer)."""

    chunk_index: int
    sentence_index: int  # position within its chunk
    start: int
    end: int
    score: float
    dense: float = 0.0
    span: tuple[int, int] | None = None  # the reader's answer span (document offsets)
    span_score: float = float("inf")  # the reader's logit for that span (inf: not read)


@dataclass
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)  # best first
    best_score: float | None = None  # the calibrated confidence that the answer is right
    threshold: float | None = None  # the answer tier's threshold on best_score
    tier: str = "answer"  # one of TIERS; abstained is True for closest and none
    none_threshold: float | None = None  # below it (on relevance): the none tier
    relevance: float | None = None  # the calibrated confidence that the documents are on topic
    context: Context | None = None  # a follow-up's: what it was searched with (qa/followup.py)
    timings_ms: dict[str, float] = field(default_factory=dict)
    rankings: dict[str, list[int]] = field(default_factory=dict, repr=False)  # chunk ids by mode

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "context": None if self.context is None else self.context.model_dump(),
            "answer": self.text,
            "abstained": self.abstained,
            "tier": self.tier,
            "best_score": None if self.best_score is None else round(self.best_score, 4),
            "threshold": self.threshold,
            "relevance": None if self.relevance is None else round(self.relevance, 4),
            "none_threshold": self.none_threshold,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "timings_ms": self.timings_ms,
        }


# ---------------------------------------------------------------------------- a conversation
# Every field of a turn is checked on its own when it comes back from outside (a browser
# tab, a --session file): a wrong type becomes the empty value, strings are cut.

MAX_TEXT = 4000  # longest question/answer/quote kept in a turn
MAX_ITEMS = 20  # most citations/passages kept per turn


def _clip(value, limit: int = MAX_TEXT) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) else ""


def _int(value, default=None):
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _num(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pair(value, lo: int, hi: int, strict_lo: bool = False):
    """Two ints a < b with lo <= a (lo < a when ``strict_lo``) and b <= hi, else None."""
    if isinstance(value, list | tuple) and len(value) == 2:
        a, b = _int(value[0]), _int(value[1])
        if a is not None and b is not None and (lo < a if strict_lo else lo <= a) and a < b <= hi:
            return [a, b]
    return None


def _strings(value, limit: int = MAX_TEXT) -> list[str]:
    items = value if isinstance(value, list | tuple) else []
    return [_clip(v, limit) for v in items[:MAX_ITEMS] if isinstance(v, str)]


Text = Annotated[str, BeforeValidator(_clip)]
Short = Annotated[str, BeforeValidator(lambda v: _clip(v, 300))]
Label = Annotated[str, BeforeValidator(lambda v: _clip(v, 600))]
Number = Annotated[float | None, BeforeValidator(_num)]
IntOrNone = Annotated[int | None, BeforeValidator(_int)]
IntOrZero = Annotated[int, BeforeValidator(lambda v: _int(v, 0))]
Flag = Annotated[bool, BeforeValidator(lambda v: v is True)]
Strings = Annotated[list[str], BeforeValidator(_strings)]


def _labelled(data):
    """A mapping given no label gets the one its title, section and page make."""
    if isinstance(data, Mapping) and not (isinstance(data.get("label"), str) and data["label"]):
        title, section = data.get("title"), data.get("section")
        data = {**data, "label": citation_label(
            title if isinstance(title, str) else "", section if isinstance(section, str) else "",
            _int(data.get("page")))}  # fmt: skip
    return data


class Context(BaseModel):
    """What a follow-up was searched with besides its own words (qa/followup.py): the
    earlier questions it leaned on (newest first), their short answers, the documents and
    passages they cited, and ``note``, that said as one sentence for people."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    questions: Strings = []
    answers: Strings = []
    doc_ids: Strings = []
    chunk_ids: Strings = []
    note: Text = ""


class TurnCitation(BaseModel):
    """One citation of a turn: a ``Citation`` as kept, with ``pages`` (first, last) when the
    quote runs over a page break; the answer span kept only inside the quote's offsets."""

    model_config = ConfigDict(extra="ignore")

    n: int
    doc_id: Short = ""
    title: Short = ""
    section: Short = ""
    page: IntOrNone = None
    quote: Text = ""
    start: IntOrZero = 0
    end: IntOrZero = 0
    score: Number = None
    chunk_id: Short = ""
    label: Label = ""
    span: list[int] | None = None
    pages: list[int] | None = None

    @field_validator("n", mode="before")
    @classmethod
    def _whole(cls, v):
        if _int(v) is None:
            raise ValueError("a citation number is a whole number")
        return v

    @model_validator(mode="before")
    @classmethod
    def _ranges(cls, data):
        if isinstance(data, Mapping):
            start, end = _int(data.get("start"), 0), _int(data.get("end"), 0)
            data = {**data, "span": _pair(data.get("span"), start, end),
                    "pages": _pair(data.get("pages"), 0, 1 << 30, strict_lo=True)}  # fmt: skip
        return _labelled(data)

    @property
    def span_text(self) -> str:
        """The reader's answer inside the quote, "" when there is none."""
        if not self.span:
            return ""
        return self.quote[self.span[0] - self.start : self.span[1] - self.start].strip()


class TurnPassage(BaseModel):
    """One of the passages retrieved for a turn (a declined answer lists them under it)."""

    model_config = ConfigDict(extra="ignore")

    chunk_id: Short = ""
    doc_id: Short = ""
    start: IntOrZero = 0
    end: IntOrZero = 0
    score: Number = None
    similarity: Number = None
    bm25: Number = None
    label: Label = ""
    text: Text = ""  # the passage as it was shown (the export lists it under a declined answer)

    @model_validator(mode="before")
    @classmethod
    def _label(cls, data):
        return _labelled(data)


def _items(model, value) -> list:
    out = []
    for item in (value if isinstance(value, list) else [])[:MAX_ITEMS]:
        try:
            out.append(item if isinstance(item, model) else model.model_validate(item))
        except ValidationError:  # not a mapping, or no citation number: dropped
            continue
    return out


class Turn(BaseModel):
    """One question and its answer as a conversation keeps it: the chat (and a browser tab,
    as JSON), ``ask --session`` (an ``ask --json`` answer reads as a Turn) and ``QA.ask``'s
    history. ``answer`` is the answer's text; ``error``: the question was not answered (the
    text says why)."""

    model_config = ConfigDict(extra="ignore")

    question: Text
    answer: Text = ""
    abstained: Flag = False
    tier: Literal["answer", "closest", "none"] = "answer"
    error: Flag = False
    citations: list[TurnCitation] = []
    passages: list[TurnPassage] = []
    best_score: Number = None
    threshold: Number = None
    context: Context | None = None
    feedback: Literal["up", "down"] | None = None
    indexing: str | None = None  # a document being indexed while this was answered

    @classmethod
    def from_answer(cls, answer: Answer) -> Turn:
        return cls.model_validate(answer.to_dict())

    @classmethod
    def failed(cls, question: str, message: str) -> Turn:
        return cls(question=question, answer=message, error=True)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data):
        """The tier as saved, else worked out (``tier_of``); a tab saved before this model
        had ``q``, ``confidence`` and ``context_note``: read as ``question``, ``best_score``
        and ``context.note``."""
        if not isinstance(data, Mapping):
            return data
        old = {"question": "q", "best_score": "confidence"}
        data = {**{k: data[o] for k, o in old.items() if k not in data and o in data}, **data}
        if not isinstance(data.get("question"), str):
            raise ValueError("a turn's question is text")
        tier = data.get("tier")
        if tier not in TIERS:  # saved before tiers
            cited = isinstance(data.get("citations"), list) and bool(data["citations"])
            tier = ("closest" if cited else "none") if data.get("abstained") is True else "answer"
        context = data.get("context")
        if not isinstance(context, Mapping | Context):
            note = data.get("context_note")
            context = Context(note=note) if isinstance(note, str) and note else None
        return {**data, "tier": tier, "context": context}

    @field_validator("feedback", mode="before")
    @classmethod
    def _rating(cls, v):
        return v if v in ("up", "down") else None

    @field_validator("indexing", mode="before")
    @classmethod
    def _name(cls, v):
        return (_clip(v, 300) or None) if isinstance(v, str) else None

    @field_validator("citations", mode="before")
    @classmethod
    def _cites(cls, v):
        return _items(TurnCitation, v)

    @field_validator("passages", mode="before")
    @classmethod
    def _passages(cls, v):
        return _items(TurnPassage, v)


def read_turns(raw, max_turns: int) -> list[Turn]:
    """Turns from outside (a browser tab, a file), validated and bounded: an item that is
    not a turn is dropped, only the last ``max_turns`` items are looked at."""
    if not isinstance(raw, list):
        return []
    turns = []
    for t in raw[-max_turns:]:
        try:
            turns.append(t if isinstance(t, Turn) else Turn.model_validate(t))
        except ValidationError:
            continue
    return turns
