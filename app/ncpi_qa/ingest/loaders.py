"""Format loaders: each turns a file's bytes into text, a title, and heading/page offsets.

A loader returns ``{"text", "title", "headings", "pages"?, "note"?}`` and raises ``LoadError``
with a reason a user can act on when the file cannot be used. ``parse`` is the dispatch:
it picks the loader by file type and turns any library error into a ``LoadError``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ncpi_qa.ingest.blocks import Heading, LoadError, TextBuilder, clean_inline
from ncpi_qa.ingest.pdf import load_pdf


def _decode(data: bytes, path: Path) -> str:
    if b"\x00" in data[:8192]:
        raise LoadError("binary file, not text")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as e:
        raise LoadError(f"not UTF-8 text (byte {e.start}); re-save it as UTF-8") from e


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


def load_txt(path: Path, data: bytes) -> dict:
    text = _decode(data, path).strip("\n")
    lines = text.split("\n")
    headings, offset = [], 0
    for i, line in enumerate(lines):
        prev_blank = i == 0 or not lines[i - 1].strip()
        next_blank = i + 1 < len(lines) and not lines[i + 1].strip()
        if _looks_like_heading(line, prev_blank, next_blank):
            s = offset + len(line) - len(line.lstrip())
            headings.append(
                Heading(s, offset + len(line.rstrip()), 1 if not headings else 2, line.strip())
            )
        offset += len(line) + 1
    title = headings[0].text if headings and headings[0].start == 0 else path.stem
    return {"text": text, "title": title, "headings": headings}


_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def load_md(path: Path, data: bytes) -> dict:
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
            b.paragraph(_md_inline("\n".join(para)))
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
            para.append(line.rstrip())
    flush()
    text = b.text()
    title = meta.get("title") or next((h.text for h in b.headings if h.level == 1), path.stem)
    note = " ".join(v for k, v in meta.items() if k in ("source", "note"))
    return {"text": text, "title": title, "headings": b.headings, "note": note}


def _md_inline(s: str) -> str:
    s = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", s)  # links and images -> their text
    return re.sub(r"(\*\*|__|`)", "", s)


_BLOCKS = [
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "li",
    "blockquote",
    "pre",
    "td",
    "th",
    "dt",
    "dd",
    "caption",
    "figcaption",
]


def load_html(path: Path, data: bytes) -> dict:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data, path), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "form"]):
        tag.decompose()
    b = TextBuilder()
    root = soup.body or soup
    blocks = [t for t in root.find_all(_BLOCKS) if not t.find_parent(_BLOCKS)]
    run: list[str] = []
    for tag in blocks:
        text = clean_inline(tag.get_text(" "))
        if tag.name == "li":
            run.append(text)
            continue
        if run:
            b.items(run)
            run = []
        if tag.name[0] == "h" and tag.name[1:].isdigit():
            b.heading(text, int(tag.name[1:]))
        else:
            b.paragraph(text)
    if run:
        b.items(run)
    if not blocks:
        for para in re.split(r"\n\s*\n", root.get_text("\n")):
            b.paragraph(clean_inline(para))
    title_tag = soup.find("title")
    title = clean_inline(title_tag.get_text()) if title_tag else ""
    if not title:
        title = next((h.text for h in b.headings), path.stem)
    return {"text": b.text(), "title": title, "headings": b.headings}


def load_docx(path: Path, data: bytes) -> dict:
    import io
    import zipfile

    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, Exception) as e:
        raise LoadError(f"corrupt or unreadable DOCX ({type(e).__name__}: {e})") from e
    b = TextBuilder()
    run: list[str] = []
    title = (d.core_properties.title or "").strip()
    for para in d.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text.strip()
        if not text:
            continue
        if style.startswith("List"):
            run.append(text)
            continue
        if run:
            b.items(run)
            run = []
        m = re.match(r"Heading (\d)", style)
        if style == "Title":
            title = title or text
            b.heading(text, 1)
        elif m:
            b.heading(text, int(m.group(1)))
        else:
            b.paragraph(text)
    if run:
        b.items(run)
    for table in d.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                b.paragraph(" | ".join(dict.fromkeys(cells)))
    text = b.text()
    if not text.strip():
        raise LoadError("DOCX has no text")
    return {
        "text": text,
        "title": title or next((h.text for h in b.headings), path.stem),
        "headings": b.headings,
    }


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


def parse(path: Path, data: bytes) -> dict:
    """The loader's parts for ``data`` read from ``path``; LoadError with the reason if unusable."""
    suffix = path.suffix.lower()
    if suffix not in LOADERS:
        raise LoadError(f"unsupported file type '{suffix or '(none)'}'")
    if not data.strip():
        raise LoadError("empty file")
    try:
        parts = LOADERS[suffix](path, data)
    except LoadError:
        raise
    except Exception as e:  # a loader bug or a library error on odd input: skip, say why
        raise LoadError(f"could not be parsed ({type(e).__name__}: {e})") from e
    if not parts["text"].strip():
        raise LoadError("no text found")
    return parts
