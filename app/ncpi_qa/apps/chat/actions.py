"""A click inside the chat's rendered HTML, typed: the one place its wire form is read.

Each clickable element carries ``data-action`` (``render``, ``docview``, ``indexing``); the
Gradio HTML component it sits in sends that string as its ``click`` event's data
(``app.ACTION_JS``: Gradio 6's ``js_on_load`` and ``trigger``), and ``parse_action`` makes
it an ``Action`` or None (anything else is ignored). The forms:

    cite:T:N        turn T's citation N             near:T:K     turn T's closest passage K
    doc:ID          document ID (from Sources)      doc:ID:T:N   ... at turn T's citation N
    doc:ID:T:pK     ... at turn T's closest passage K
    fb:T:up|down    feedback on turn T              rm|rmyes:ID  remove document ID (asked,
                                                    confirmed); rmno: keep it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["cite", "near", "doc", "fb", "rm", "rmyes", "rmno"]
REMOVAL = ("rm", "rmyes", "rmno")


@dataclass(frozen=True)
class Action:
    kind: Kind
    turn: int | None = None  # the turn it is about (None: a document from Sources)
    item: int | None = None  # the citation number (cite, doc) or closest passage (near, doc)
    doc_id: str = ""
    passage: bool = False  # doc: opened at a closest passage, not a citation
    rating: Literal["up", "down"] | None = None


def _whole(text: str) -> int:
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def parse_action(data) -> Action | None:
    """The click's ``data-action`` (a string, or ``{"action": string}`` as the page sends
    it) as an ``Action``; None for anything that is not one of the forms above."""
    raw = data.get("action") if isinstance(data, dict) else data
    if not isinstance(raw, str):
        return None
    kind, _, rest = raw.partition(":")
    parts = rest.split(":")
    try:
        if kind in ("cite", "near") and len(parts) == 2:
            return Action(kind, turn=_whole(parts[0]), item=_whole(parts[1]))
        if kind == "fb" and len(parts) == 2 and parts[1] in ("up", "down"):
            return Action("fb", turn=_whole(parts[0]), rating=parts[1])
        if kind in REMOVAL and (rest or kind == "rmno"):  # "Keep it" names no document
            return Action(kind, doc_id=rest)
        if kind == "doc" and parts[0] and len(parts) in (1, 3):
            if len(parts) == 1:
                return Action("doc", doc_id=parts[0])
            passage = parts[2].startswith("p")
            item = _whole(parts[2][1:] if passage else parts[2])
            return Action("doc", turn=_whole(parts[1]), item=item, doc_id=parts[0],
                          passage=passage)  # fmt: skip
    except ValueError:
        return None
    return None
