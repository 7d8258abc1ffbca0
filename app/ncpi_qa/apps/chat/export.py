"""A conversation as Markdown (the chat's Export button) and as clean text (Copy).

Words from a document are written as the document prints them: each quote (and each
answer, which quotes) goes in a fenced block, whose content Markdown never interprets, so
nothing in it is escaped; the fence is longer than any run of backticks inside. A quote sits
in a blockquote (``> ``) around its fence, so pasted into an email it still reads as a
quote. The few lines of prose around them (the question, a label) escape only what Markdown
would misread there (``md_escape``), never quotes or parentheses, never as HTML entities.
"""

from __future__ import annotations

import re

from ncpi_qa.schema import Turn, TurnCitation

# what Markdown could read as markup in a line of prose: code, emphasis, links, raw HTML
# and entities, a heading's closing #s, tables, strikethrough; each gets one backslash
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&#|~])")
_BACKTICKS = re.compile(r"`+")
TIER_LABELS = {
    "closest": "Closest passage — not a confirmed answer",
    "none": "Not answered by the documents",
}


def md_escape(text) -> str:
    """A line of prose made inert in Markdown: a backslash before each character that could
    start markup (a backslash-escaped punctuation character renders as itself)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text or ""))


def fenced(text, prefix: str = "") -> list[str]:
    """``text`` as a fenced block, every line verbatim (line breaks of any kind made ``\\n``),
    each output line led by ``prefix`` (``"> "`` inside a blockquote)."""
    lines = str(text or "").splitlines() or [""]
    longest = max((len(m) for m in _BACKTICKS.findall(str(text or ""))), default=0)
    fence = "`" * max(3, longest + 1)
    body = [f"{prefix}{line}" if line else prefix.rstrip() for line in lines]
    return [f"{prefix}{fence}text", *body, f"{prefix}{fence}"]


def _counts(turns: list[Turn]) -> str:
    asked = [t for t in turns if not t.error]
    by = {k: sum(t.tier == k for t in asked) for k in ("answer", "closest", "none")}
    parts = [f"{by['answer']} answered with quotes"]
    parts.append(f"{by['closest']} with only the closest passage (not a confirmed answer)")
    parts.append(f"{by['none']} not answered by the documents")
    errors = len(turns) - len(asked)
    if errors:
        parts.append(f"{errors} not asked (an error)")
    n = len(turns)
    return f"{n} question{'s' if n != 1 else ''}: " + "; ".join(parts) + "."


def export_markdown(turns: list[Turn]) -> str:
    """The whole conversation as Markdown: each answer followed by its quoted citations; a
    declined answer by the closest passages found. Answers and quotes verbatim in fenced
    blocks; the rest escaped (``md_escape``)."""
    out = ["# NCPI QA conversation", "", _counts(turns), ""]
    for t in turns:
        out.append(f"## Q: {md_escape(t.question)}".replace("\n", " "))
        if t.context and t.context.note:
            out.append(f"*{md_escape(t.context.note)}*".replace("\n", " "))
        tier = "answer" if t.error else t.tier
        if tier in TIER_LABELS:
            out += ["", f"**{TIER_LABELS[tier]}**"]
        out += ["", *fenced(t.answer), ""]
        labels = display_labels(t.citations)
        for c in t.citations:
            out.append(
                f"[{c.n}] **{md_escape(labels[c.n])}** "
                f"({md_escape(c.doc_id)}, characters {c.start}–{c.end})"
            )
            out += [*fenced(c.quote, "> "), ""]
        if tier == "none" and t.passages:
            out += ["Closest passages found (not an answer):", ""]
            for k, p in enumerate(t.passages, 1):
                out.append(
                    f"Passage {k}: **{md_escape(p.label)}** "
                    f"({md_escape(p.doc_id)}, characters {p.start}–{p.end})"
                )
                out += [*fenced(p.text, "> "), ""]
    return "\n".join(out).rstrip() + "\n"


def answer_text(turn: Turn) -> str:
    """An answer as clean text for the clipboard: the answer, then each source with its
    quote; a declined answer, the closest passages found."""
    tier = turn.tier
    lines = [f"({TIER_LABELS[tier]})"] if tier in TIER_LABELS else []
    lines.append(turn.answer)
    labels = display_labels(turn.citations)
    if turn.citations:
        lines += ["", "Sources:"]
        for c in turn.citations:
            lines.append(f"[{c.n}] {labels[c.n]} — “{c.quote}”")
    elif tier == "none" and turn.passages:
        lines += ["", "Closest passages found (not an answer):"]
        for k, p in enumerate(turn.passages, 1):
            lines.append(f"{k}. {p.label} — “{p.text}”")
    return "\n".join(lines)


def display_labels(citations: list[TurnCitation]) -> dict[int, str]:
    """The label each citation is shown with, distinct within one answer: citations that
    share a document, section and page are told apart by the start of their quote."""
    counts: dict[str, int] = {}
    for c in citations:
        counts[c.label] = counts.get(c.label, 0) + 1
    out = {}
    for c in citations:
        label = c.label
        if counts[label] > 1:
            words = c.quote.split()
            label = f"{label} · “{' '.join(words[:6])}{'…' if len(words) > 6 else ''}”"
        out[c.n] = label
    return out
