"""Format loaders: each turns a file's bytes into text, a title, and heading/page offsets.

A loader returns a ``blocks.Parsed`` (text, title, headings, pages, note) and raises ``LoadError``
with a reason a user can act on when the file cannot be used. ``parse`` is the dispatch:
it checks that the bytes are the kind the name says (``limits.check_kind``), picks the
loader by file type under the file's content budget (``limits.Limits``: what it may unpack
to, paragraphs, characters, time) and turns any library error into a ``LoadError``.
HTML and DOCX have their own modules (``html_loader``, ``docx_loader``), PDF is ``pdf``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.blocks import Parsed, TextBuilder
from ncpi_qa.ingest.docx_loader import load_docx
from ncpi_qa.ingest.html_loader import load_html as _load_html
from ncpi_qa.ingest.limits import Limits, active, budget_for, check_kind
from ncpi_qa.ingest.pdf import load_pdf


def _decode(data: bytes, path: Path) -> str:
    nul = data.find(b"\x00")
    if nul >= 0:  # anywhere in the file, not only its start
        raise LoadError(f"binary file, not text (a NUL byte at byte {nul:,})")
    budget = active()
    budget.check_chars(len(data) // 4)  # UTF-8 is at most 4 bytes a character
    try:
        text = data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8 text (byte {e.start}); re-save it as UTF-8") from e
    budget.check_chars(len(text))
    return text


def _looks_like_heading(line: str, prev_blank: bool, next_blank: bool) -> bool:
    s = line.strip()
    return (
        prev_blank
        and next_blank
        and 0 < len(s) <= 100
        and s[-1] not in ".,;:!?\u2019\"'"
        and not re.match(r"[•\-\*\d(]", s)
        and s[0].isupper()
    )


_ITEM = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s+(.*)")


def load_txt(path: Path, data: bytes) -> Parsed:
    """Blocks are separated by blank lines. A block of one short line that reads as a title
    is a heading; lines starting with a bullet or "1." are list items; the other lines of a
    block are one paragraph, their line breaks (a hard-wrapped file's) read as spaces."""
    text = _decode(data, path).strip("\n")
    blocks = re.split(r"\n[ \t]*\n", text)
    b = TextBuilder()
    for i, block in enumerate(blocks):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if len(lines) == 1 and _looks_like_heading(lines[0], True, i + 1 < len(blocks)):
            b.heading(lines[0], 1 if not b.headings else 2)
            continue
        para: list[str] = []
        items: list[str] = []
        for line in lines:
            li = _ITEM.match(line)
            if li:
                if para:
                    b.paragraph(" ".join(para))
                    para = []
                items.append(li.group(1).strip())
            elif items and line.startswith((" ", "\t")):
                items[-1] += " " + line.strip()
            else:
                if items:
                    b.items(items)
                    items = []
                para.append(line.strip())
        if para:
            b.paragraph(" ".join(para))
        if items:
            b.items(items)
    text = b.text()
    first = b.headings[0] if b.headings else None
    title = first.text if first is not None and first.start == 0 else path.stem
    return Parsed(text, title, b.headings)


_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _md_join(lines: list[str]) -> str:
    """A paragraph's lines as Markdown reads them: a soft line break is a space; a hard one
    (two trailing spaces or a backslash) stays a line break."""
    out = ""
    for n, line in enumerate(lines):
        hard = line.endswith("  ") or line.rstrip(" ").endswith("\\")
        body = line.strip()
        if hard and body.endswith("\\"):
            body = body[:-1].rstrip()
        out += body + ("" if n == len(lines) - 1 else "\n" if hard else " ")
    return out


def load_md(path: Path, data: bytes) -> Parsed:
    raw = _decode(data, path)
    meta = {}
    m = _FRONT.match(raw)
    if m:
        for line in m.group(1).split("\n"):
            if ":" in line:
                key, value = line.split(":", 1)
                meta[key.strip().lower()] = value.strip()
        raw = raw[m.end() :]
    b = TextBuilder()
    para: list[str] = []
    items: list[str] = []

    def flush():
        if para:
            b.paragraph(_md_inline(_md_join(para)))
            para.clear()
        if items:
            b.items([_md_inline(i) for i in items])
            items.clear()

    for line in raw.split("\n"):
        h = re.match(r"(#{1,6})\s+(.*?)\s*#*\s*$", line)
        li = re.match(r"\s*(?:[-*+]|\d+[.)])\s+(.*)", line)
        if h:
            flush()
            b.heading(_md_inline(h.group(2)), len(h.group(1)))
        elif li:
            if para:
                flush()
            items.append(li.group(1))
        elif not line.strip():
            flush()
        elif items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if items:
                flush()
            para.append(line)
    flush()
    text = b.text()
    title = meta.get("title") or next((h.text for h in b.headings if h.level == 1), path.stem)
    note = " ".join(v for k, v in meta.items() if k in ("source", "note"))
    return Parsed(text, title, b.headings, note=note)


# A link or image: [text](destination "title"); the destination may hold balanced
# parentheses (https://en.wikipedia.org/wiki/Child_(law)), as CommonMark reads it.
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\n]|\([^()\n]*\))*\)")


def _md_inline(s: str) -> str:
    s = _MD_LINK.sub(r"\1", s)  # links and images -> their text
    return re.sub(r"(\*\*|__|`)", "", s)


def load_html(path: Path, data: bytes) -> Parsed:
    return _load_html(path, data, _decode)


LOADERS = {
    ".txt": load_txt,
    ".md": load_md,
    ".markdown": load_md,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


SUPPORTED_SUFFIXES = frozenset(LOADERS)


def parse(path: Path, data: bytes, limits: Limits | None = None) -> Parsed:
    """The loader's parts for ``data`` read from ``path``; LoadError with the reason if unusable
    (``LimitError`` when it is over one of ``limits``, default: the settings' defaults)."""
    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise LoadError(f"unsupported file type '{suffix or '(none)'}'")
    if not data.strip():
        raise LoadError("empty file")
    check_kind(suffix, data)
    try:
        with budget_for(limits or Limits()):
            parts = LOADERS[suffix](path, data)
    except LoadError:
        raise
    except RecursionError as e:
        raise LoadError("nested too deeply to be read") from e
    except MemoryError as e:  # never expected within the limits; still a reason, not a crash
        raise LoadError("too large to read in memory (lower the limits in settings)") from e
    except Exception as e:  # a loader bug or a library error on odd input: skip, say why
        raise LoadError(f"could not be parsed ({type(e).__name__}: {e})") from e
    if not parts.text.strip():
        raise LoadError("no text found")
    return parts
