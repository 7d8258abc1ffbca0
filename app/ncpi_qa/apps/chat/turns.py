"""A conversation's turns: built from ``Answer.to_dict()``, checked when they come back from
the browser, and turned into plain text (clipboard) or Markdown (export).

A turn is a JSON-serialisable dict (kept in the browser too)::

    {"q": asked, "searched": rewritten question or None, "answer": text, "abstained": bool,
     "error": bool, "citations": [{n, doc_id, title, section, page, quote, start, end,
     score, chunk_id, label}], "passages": [{chunk_id, doc_id, start, end, label, score,
     similarity, bm25}], "feedback": None | "up" | "down"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from ncpi_qa.schema import citation_label

CITE_FIELDS = ("n", "doc_id", "title", "section", "page", "quote", "start", "end", "score", "span")
PASSAGE_FIELDS = ("chunk_id", "doc_id", "start", "end", "score", "similarity", "bm25")
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
    return {
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


def sanitize_turns(raw, max_turns: int) -> list[dict]:
    """Turns sent back by the browser, checked field by field and bounded: anything that is
    not the expected shape is dropped, long strings are cut, only the last turns are kept."""
    if not isinstance(raw, list):
        return []
    turns = []
    for t in raw[-max_turns:]:
        if not isinstance(t, Mapping) or not isinstance(t.get("q"), str):
            continue
        cites = []
        for c in (t.get("citations") if isinstance(t.get("citations"), list) else [])[:MAX_ITEMS]:
            if not isinstance(c, Mapping) or _int(c.get("n")) is None:
                continue
            start, end = _int(c.get("start"), 0), _int(c.get("end"), 0)
            cites.append(
                {
                    "n": c["n"],
                    "doc_id": _clip(c.get("doc_id", ""), 300),
                    "title": _clip(c.get("title", ""), 300),
                    "section": _clip(c.get("section", ""), 300),
                    "page": _int(c.get("page")),
                    "quote": _clip(c.get("quote", "")),
                    "start": start,
                    "end": end,
                    "score": _num(c.get("score")),
                    "chunk_id": _clip(c.get("chunk_id", ""), 300),
                    "label": _clip(c.get("label", ""), 600),
                    "span": _span(c.get("span"), start, end),
                    "pages": _pages(c.get("pages")),
                }
            )
        passages = []
        for p in (t.get("passages") if isinstance(t.get("passages"), list) else [])[:MAX_ITEMS]:
            if not isinstance(p, Mapping):
                continue
            passages.append(
                {
                    "chunk_id": _clip(p.get("chunk_id", ""), 300),
                    "doc_id": _clip(p.get("doc_id", ""), 300),
                    "start": _int(p.get("start"), 0),
                    "end": _int(p.get("end"), 0),
                    "score": _num(p.get("score")),
                    "similarity": _num(p.get("similarity")),
                    "bm25": _num(p.get("bm25")),
                    "label": _clip(p.get("label", ""), 600),
                }
            )
        searched = t.get("searched")
        feedback = t.get("feedback")
        turns.append(
            {
                "q": _clip(t["q"]),
                "searched": _clip(searched) if isinstance(searched, str) else None,
                "answer": _clip(t.get("answer", "")),
                "abstained": t.get("abstained") is True,
                "error": t.get("error") is True,
                "citations": cites,
                "passages": passages,
                "feedback": feedback if feedback in ("up", "down") else None,
                "confidence": _num(t.get("confidence")),
                "threshold": _num(t.get("threshold")),
                "indexing": _clip(t.get("indexing"), 300) or None,
            }
        )
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


def display_labels(citations: list[dict]) -> dict[int, str]:
    """The label each citation is shown with, distinct within one answer: citations that
    share a document, section and page are told apart by the start of their quote."""
    base = {
        c["n"]: c.get("label") or citation_label(c.get("title"), c.get("section"), c.get("page"))
        for c in citations
    }
    counts: dict[str, int] = {}
    for label in base.values():
        counts[label] = counts.get(label, 0) + 1
    out = {}
    for c in citations:
        label = base[c["n"]]
        if counts[label] > 1:
            words = (c.get("quote") or "").split()
            label = f"{label} · “{' '.join(words[:6])}{'…' if len(words) > 6 else ''}”"
        out[c["n"]] = label
    return out


# ---------------------------------------------------------------------------- plain text


def answer_text(turn: dict) -> str:
    """An answer as clean text for the clipboard: the answer, then each source with its quote."""
    lines = [turn.get("answer", "")]
    labels = display_labels(turn.get("citations") or [])
    if turn.get("citations"):
        lines += ["", "Sources:"]
        for c in turn["citations"]:
            lines.append(f"[{c['n']}] {labels[c['n']]} — “{c.get('quote', '')}”")
    return "\n".join(lines)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|~])")


def md_escape(text) -> str:
    """Text made inert in Markdown: HTML-significant characters as entities (no tag, no
    handler), Markdown punctuation backslash-escaped (no link, image, emphasis or heading),
    line breaks kept inside the block."""
    text = str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def export_markdown(turns: list[dict]) -> str:
    """The whole conversation as Markdown, each answer followed by its quoted citations.
    Everything that came from a person or a document is escaped (``md_escape``)."""
    out = ["# NCPI QA conversation", ""]
    for t in turns:
        out.append(f"## Q: {md_escape(t['q'])}".replace("\n", " "))
        if t.get("searched"):
            out.append(f"*Searching for: {md_escape(t['searched'])}*".replace("\n", " "))
        out += ["", md_escape(t.get("answer", "")).replace("\n", "  \n"), ""]
        labels = display_labels(t.get("citations") or [])
        for c in t.get("citations") or []:
            out.append(
                f"\\[{c['n']}\\] **{md_escape(labels[c['n']])}** "
                f"\\({md_escape(c['doc_id'])}, characters {c['start']}–{c['end']}\\)"
            )
            # every line of the quote inside the blockquote, whatever the line break
            lines = md_escape(c.get("quote", "")).splitlines() or [""]
            out.extend(f"> {line}" for line in lines)
            out.append("")
    return "\n".join(out).rstrip() + "\n"
