"""A conversation's turns: built from ``Answer.to_dict()``, checked when they come back from
the browser (its plain text and Markdown forms are in ``export``).

A turn is a JSON-serialisable dict (kept in the browser too)::

    {"q": asked, "searched": rewritten question or None, "answer": text, "abstained": bool,
     "tier": "answer" | "closest" | "none", "error": bool, "citations": [{n, doc_id, title,
     section, page, quote, start, end, score, chunk_id, label}], "passages": [{chunk_id,
     doc_id, start, end, label, score, similarity, bm25, text}], "feedback": None | "up" |
     "down"}

A ``none`` turn keeps its closest passages (text included), so they are listed under it,
reopened and exported after later questions and a reload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from ncpi_qa.apps.chat.export import (  # noqa: F401  (re-exported: the chat's text forms)
    answer_text,
    export_markdown,
    md_escape,
    tier_of,
)
from ncpi_qa.ingest.chunking import citation_label

CITE_FIELDS = ("n", "doc_id", "title", "section", "page", "quote", "start", "end", "score", "span")
PASSAGE_FIELDS = ("chunk_id", "doc_id", "start", "end", "score", "similarity", "bm25", "text")
TIERS = ("answer", "closest", "none")
MAX_TEXT = 4000  # longest question/answer/quote kept in a turn restored from the browser
MAX_ITEMS = 20  # most citations/passages kept per restored turn


def make_turn(question: str, searched: str | None, result: dict | None, error: str = "") -> dict:
    """A turn from ``Answer.to_dict()`` (or an error message), trimmed to what the UI needs."""
    if result is None:
        return {
            "q": question,
            "searched": searched,
            "answer": error,
            "abstained": False,
            "error": True,
            "citations": [],
            "passages": [],
            "feedback": None,
            "tier": "answer",
        }
    cites = []
    for c in result.get("citations") or []:
        d = {k: c.get(k) for k in CITE_FIELDS}
        d["chunk_id"] = c.get("chunk_id")
        d["label"] = c.get("label") or citation_label(
            c.get("title"), c.get("section"), c.get("page")
        )
        cites.append(d)
    passages = []
    for p in result.get("passages") or []:
        d = {k: p.get(k) for k in PASSAGE_FIELDS}
        d["label"] = p.get("label") or citation_label(
            p.get("title"), p.get("section"), p.get("page")
        )
        passages.append(d)
    turn = {
        "q": question,
        "searched": searched,
        "answer": result.get("answer", ""),
        "abstained": bool(result.get("abstained")),
        "error": False,
        "citations": cites,
        "passages": passages,
        "feedback": None,
        "confidence": _num(result.get("best_score")),
        "threshold": _num(result.get("threshold")),
    }
    turn["tier"] = tier_of({**turn, "tier": result.get("tier")})
    return turn


def _clip(value, limit: int = MAX_TEXT) -> str:
    return str(value)[:limit] if isinstance(value, str | int | float) else ""


def _int(value, default=None):
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _span(value, start: int, end: int):
    """A restored citation's answer span: two ints inside [start, end), else None."""
    if isinstance(value, list | tuple) and len(value) == 2:
        a, b = _int(value[0]), _int(value[1])
        if a is not None and b is not None and start <= a < b <= end:
            return [a, b]
    return None


def _pages(value):
    """A restored citation's page range: [first, last], two ints with first < last."""
    if isinstance(value, list | tuple) and len(value) == 2:
        a, b = _int(value[0]), _int(value[1])
        if a is not None and b is not None and 0 < a < b:
            return [a, b]
    return None


_PAGE_SUFFIX = re.compile(r" · p\. (\d+)$")


def with_pages(turn: dict, documents) -> dict:
    """The turn with each citation that runs over a page break labelled with both pages
    ("… · pp. 26–27") and its range kept in ``pages``; other citations as they were."""
    from ncpi_qa.apps.chat.docview import page_label, pages_of

    cites = []
    for c in turn.get("citations") or []:
        doc = (documents or {}).get(c.get("doc_id"))
        span = pages_of(doc, c["start"], c["end"]) if doc is not None else None
        if span and span[1] != span[0]:
            label, pages = c.get("label") or "", page_label(*span)
            if _PAGE_SUFFIX.search(label):
                label = _PAGE_SUFFIX.sub(f" · {pages}", label)
            else:
                label = f"{label} · {pages}"
            c = {**c, "pages": list(span), "label": label}
        cites.append(c)
    return {**turn, "citations": cites}


def _num(value):
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _clipped(limit: int):
    return BeforeValidator(lambda v: _clip(v, limit))


Text = Annotated[str, _clipped(MAX_TEXT)]
Short = Annotated[str, _clipped(300)]
Label = Annotated[str, _clipped(600)]
Number = Annotated[float | None, BeforeValidator(_num)]
IntOrNone = Annotated[int | None, BeforeValidator(_int)]
IntOrZero = Annotated[int, BeforeValidator(lambda v: _int(v, 0))]
Flag = Annotated[bool, BeforeValidator(lambda v: v is True)]


class CitationTurn(BaseModel):
    """One citation of a turn, as the browser may send it back: each field checked on its
    own (a wrong type becomes the empty value), strings cut, the answer span kept only
    inside the quote's offsets and the page range only when it is one."""

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
            data = {**data, "span": _span(data.get("span"), start, end),
                    "pages": _pages(data.get("pages"))}  # fmt: skip
        return data


class PassageTurn(BaseModel):
    """One of the closest passages listed under a turn."""

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


def _items(model, value) -> list:
    out = []
    for item in (value if isinstance(value, list) else [])[:MAX_ITEMS]:
        try:
            out.append(model.model_validate(item))
        except ValidationError:  # not a mapping, or no citation number: dropped
            continue
    return out


class Turn(BaseModel):
    """One question and its answer as the chat keeps it (and as a browser tab saves it)."""

    model_config = ConfigDict(extra="ignore")

    q: Text
    searched: str | None = None
    answer: Text = ""
    abstained: Flag = False
    error: Flag = False
    citations: list[CitationTurn] = []
    passages: list[PassageTurn] = []
    feedback: Literal["up", "down"] | None = None
    confidence: Number = None
    threshold: Number = None
    indexing: str | None = None
    context_note: str | None = None  # a follow-up's "Searched with the earlier question …"
    tier: Literal["answer", "closest", "none"] = "answer"

    @field_validator("q", mode="before")
    @classmethod
    def _asked(cls, v):
        if not isinstance(v, str):
            raise ValueError("a turn's question is text")
        return v

    @field_validator("searched", "indexing", "context_note", mode="before")
    @classmethod
    def _optional_text(cls, v, info):
        return (
            (_clip(v, 300 if info.field_name == "indexing" else MAX_TEXT) or None)
            if (isinstance(v, str))
            else None
        )

    @model_validator(mode="before")
    @classmethod
    def _tier(cls, data):
        """The tier as saved, else (an older saved turn) worked out as ``tier_of`` does."""
        if isinstance(data, Mapping):
            cites = data.get("citations")
            seen = {
                "tier": data.get("tier"),
                "abstained": data.get("abstained") is True,
                "citations": cites if isinstance(cites, list) else [],
            }
            data = {**data, "tier": tier_of(seen)}
        return data

    @field_validator("feedback", mode="before")
    @classmethod
    def _rating(cls, v):
        return v if v in ("up", "down") else None

    @field_validator("citations", mode="before")
    @classmethod
    def _cites(cls, v):
        return _items(CitationTurn, v)

    @field_validator("passages", mode="before")
    @classmethod
    def _passages(cls, v):
        return _items(PassageTurn, v)


def sanitize_turns(raw, max_turns: int) -> list[dict]:
    """Turns sent back by the browser, validated as ``Turn`` models and bounded: a turn that
    is not the expected shape is dropped, a field of the wrong type becomes its empty value,
    long strings are cut, only the last ``max_turns`` entries are looked at."""
    if not isinstance(raw, list):
        return []
    turns = []
    for t in raw[-max_turns:]:
        try:
            turns.append(Turn.model_validate(t).model_dump())
        except ValidationError:
            continue
    return turns


def dump_turns(turns: list) -> str:
    """A conversation as this tab keeps it in the browser (``assets.PAGE_JS``)."""
    return json.dumps(turns, ensure_ascii=False) if turns else ""


def restore_turns(raw, max_turns: int) -> list:
    """A tab's saved conversation, checked field by field (``sanitize_turns``)."""
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else raw
    except ValueError:
        return []
    return sanitize_turns(data, max_turns)
