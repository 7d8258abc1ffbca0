"""A conversation at the browser boundary: the chat keeps ``schema.Turn``s; a tab keeps them
as JSON (``assets.PAGE_JS``), and they are read back through the same model, each field
checked (``schema.read_turns``). Its plain text and Markdown forms are in ``export``.

A ``none`` turn keeps its closest passages (text included), so they are listed under it,
reopened and exported after later questions and a reload.
"""

from __future__ import annotations

import json
import re

from ncpi_qa.apps.chat.docview import page_label, pages_of
from ncpi_qa.schema import Turn, read_turns

_PAGE_SUFFIX = re.compile(r" · p\. (\d+)$")


def with_pages(turn: Turn, documents) -> Turn:
    """The turn with each citation that runs over a page break labelled with both pages
    ("… · pp. 26–27") and its range kept in ``pages``; other citations as they were."""
    cites = []
    for c in turn.citations:
        doc = (documents or {}).get(c.doc_id)
        span = pages_of(doc, c.start, c.end) if doc is not None else None
        if span and span[1] != span[0]:
            label, pages = c.label, page_label(*span)
            if _PAGE_SUFFIX.search(label):
                label = _PAGE_SUFFIX.sub(f" · {pages}", label)
            else:
                label = f"{label} · {pages}"
            c = c.model_copy(update={"pages": list(span), "label": label})
        cites.append(c)
    return turn.model_copy(update={"citations": cites})


def dump_turns(turns: list[Turn]) -> str:
    """A conversation as this tab keeps it in the browser (``assets.PAGE_JS``)."""
    if not turns:
        return ""
    return json.dumps([t.model_dump(mode="json") for t in turns], ensure_ascii=False)


def restore_turns(raw, max_turns: int) -> list[Turn]:
    """A tab's saved conversation, checked field by field: an entry that is not a turn is
    dropped, a field of the wrong type becomes its empty value, long strings are cut, only
    the last ``max_turns`` entries are looked at."""
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else raw
    except ValueError:
        return []
    return read_turns(data, max_turns)
