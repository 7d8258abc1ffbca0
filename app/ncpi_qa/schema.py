"""The answer path's typed results, shared by the CLI, the chat app, the evals and llama-index.

question -> Profile (qa.question) -> Passages (qa.retrieve) -> Candidates (qa.answer.score)
-> Answer (qa.answer.decide) -> rendered by apps/cli.py, apps/chat/app.py and evals/run.py.
A Citation's ``label`` is the one place a citation is formatted for people.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

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
    # the follow-up written out as a sentence, only where one was made (none is: follow-ups
    # are searched with their context, not rewritten), else None
    resolved_question: str | None = None
    # a follow-up's context (qa/followup.py): {questions, answers, doc_ids, chunk_ids, note}
    context: dict | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    rankings: dict[str, list[int]] = field(default_factory=dict, repr=False)  # chunk ids by mode

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "resolved_question": self.resolved_question,
            "context": self.context,
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
