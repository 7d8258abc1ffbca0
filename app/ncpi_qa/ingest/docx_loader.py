"""The DOCX loader: the main document part read once with a streaming XML parser.

Styles are resolved once from ``styles.xml`` (id -> name, and the default paragraph style),
not looked up per paragraph; the document XML is fed through ``XMLPullParser`` a piece at a
time and each element is dropped as soon as it ends, so memory stays flat whatever the file
holds. Every byte unpacked and every element is charged to the file's budget
(``limits.Budget``). Body paragraphs, table rows (cells joined by " | ") and text-box
paragraphs come out in document order; Title / Heading N / List styles become the title,
headings and list items. Expat expands internal entities (with its amplification limits)
and never fetches external ones; an undefined entity makes the file unreadable, with the
reason, instead of cutting its run short.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import ParseError, XMLPullParser

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.blocks import Parsed, TextBuilder
from ncpi_qa.ingest.limits import Budget, active

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
REL_OFFICE_DOC = "/officeDocument"
MAX_ENTRIES = 10_000  # a Word file has a few dozen parts; a ZIP of millions is a bomb
_PIECE = 1 << 16
_UI_NAMES = {"caption": "Caption", "footer": "Footer", "header": "Header"} | {
    f"heading {n}": f"Heading {n}" for n in range(1, 10)
}


def _events(zf: zipfile.ZipFile, name: str, budget: Budget) -> Iterator[tuple[str, object]]:
    """(event, element) pairs of one part, read a piece at a time and charged to the budget;
    each element is removed from its parent when it ends (after the caller has seen it)."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return
    parser = XMLPullParser(events=("start", "end"))
    stack: list = []
    with zf.open(info) as f:
        while True:
            piece = f.read(_PIECE)
            if piece:
                budget.unpack(len(piece), name)
                parser.feed(piece)
            else:
                parser.close()
            for event, elem in parser.read_events():
                if event == "start":
                    budget.element()
                    stack.append(elem)
                    yield event, elem
                else:
                    yield event, elem
                    stack.pop()
                    if stack:
                        stack[-1].remove(elem)
            if not piece:
                return


def _open(data: bytes) -> zipfile.ZipFile:
    tail = data[-(1 << 16) - 22 :]
    at = tail.rfind(b"PK\x05\x06")
    if at >= 0 and len(tail) >= at + 12:
        entries = int.from_bytes(tail[at + 10 : at + 12], "little")
        if entries > MAX_ENTRIES and entries != 0xFFFF:
            raise LoadError(f"not a Word document: a ZIP of {entries:,} parts")
    zf = zipfile.ZipFile(io.BytesIO(data))
    if len(zf.infolist()) > MAX_ENTRIES:
        raise LoadError(f"not a Word document: a ZIP of {len(zf.infolist()):,} parts")
    return zf


def _main_part(zf: zipfile.ZipFile, budget: Budget) -> str:
    for event, elem in _events(zf, "_rels/.rels", budget):
        if event == "end" and (elem.get("Type") or "").endswith(REL_OFFICE_DOC):
            target = (elem.get("Target") or "").lstrip("/")
            if target:
                return target
    return "word/document.xml"


def _styles(zf: zipfile.ZipFile, part: str, budget: Budget) -> tuple[dict[str, str], str]:
    """{paragraph style id: UI name} and the default paragraph style's name."""
    names: dict[str, str] = {}
    default = ""
    sid, kind, is_default = None, None, False
    for event, elem in _events(zf, part, budget):
        if elem.tag == W + "style":
            if event == "start":
                sid, kind = elem.get(W + "styleId"), elem.get(W + "type")
                is_default = elem.get(W + "default") in ("1", "true", "on")
        elif event == "end" and elem.tag == W + "name" and sid is not None:
            name = elem.get(W + "val") or ""
            name = _UI_NAMES.get(name, name)
            if kind in (None, "paragraph"):
                names[sid] = name
                if is_default:
                    default = name
            sid = None
    return names, default


def _core_title(zf: zipfile.ZipFile, budget: Budget) -> str:
    for event, elem in _events(zf, "docProps/core.xml", budget):
        if event == "end" and elem.tag == DC_TITLE:
            return (elem.text or "").strip()[:300]
    return ""


def _body(zf: zipfile.ZipFile, part: str, budget: Budget) -> Iterator[tuple[str | None, str]]:
    """(style id, text) of each body paragraph, and (None, "a | b") of each top-level table
    row, in document order. Text in table cells goes into the row; text boxes' paragraphs
    come out on their own; ``mc:Fallback`` copies and tables of contents are skipped.
    One pass whose cases share the open paragraph/cell/row state: long on purpose
    (tests/test_sizes.py)."""
    paras: list[list] = []  # open paragraphs: [style id, pieces]
    cells: list[list[str]] = []  # open table cells: their paragraphs' text
    rows: list[list[str]] = []  # open table rows: their cells' text
    skip = 0  # inside an mc:Fallback or a table of contents
    sdt_toc: list[bool] = []
    for event, elem in _events(zf, part, budget):
        tag = elem.tag
        if event == "start":
            if tag == MC_FALLBACK:
                skip += 1
            elif tag == W + "sdt":
                sdt_toc.append(False)
            elif skip:
                pass
            elif tag == W + "p":
                paras.append([None, []])
            elif tag == W + "tc":
                cells.append([])
            elif tag == W + "tr":
                rows.append([])
            continue
        if tag == MC_FALLBACK:
            skip -= 1
        elif tag == W + "docPartGallery" and sdt_toc:
            if (elem.get(W + "val") or "").lower().startswith("table of contents"):
                sdt_toc[-1] = True
                skip += 1
        elif tag == W + "sdt" and sdt_toc:
            if sdt_toc.pop():
                skip -= 1
        elif skip or (not paras and tag not in (W + "tc", W + "tr")):
            continue
        elif tag == W + "t":
            paras[-1][1].append(elem.text or "")
            if len(elem.text or "") > 4096:  # one huge run: bounded before it is joined
                budget.check_chars(budget.chars + sum(map(len, paras[-1][1])))
        elif tag in (W + "tab", W + "ptab"):
            paras[-1][1].append("\t")
        elif tag in (W + "br", W + "cr"):
            if elem.get(W + "type") in (None, "textWrapping"):
                paras[-1][1].append("\n")
        elif tag == W + "noBreakHyphen":
            paras[-1][1].append("-")
        elif tag == W + "pStyle" and paras[-1][0] is None:
            paras[-1][0] = elem.get(W + "val") or ""
        elif tag == W + "p":
            style, pieces = paras.pop()
            text = "".join(pieces).strip()
            if cells:
                cells[-1].append(text)
            elif text:
                yield style, text
        elif tag == W + "tc" and cells:
            text = "\n".join(t for t in cells.pop() if t).strip()
            if rows:
                rows[-1].append(text)
        elif tag == W + "tr" and rows:
            line = " | ".join(dict.fromkeys(c for c in rows.pop() if c))
            if cells:  # a table nested in a cell: its rows are that cell's text
                cells[-1].append(line)
            elif line:
                yield None, line


def load_docx(path: Path, data: bytes) -> Parsed:
    budget = active()
    try:
        zf = _open(data)
        main = _main_part(zf, budget)
        if main not in zf.namelist():
            raise LoadError("this ZIP file is not a Word document (it has no document part)")
        names, default = _styles(zf, str(PurePosixPath(main).parent / "styles.xml"), budget)
        title = _core_title(zf, budget)
        b = TextBuilder()
        run: list[str] = []
        for sid, text in _body(zf, main, budget):
            style = "" if sid is None else names.get(sid, default) if sid else default
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
    except LoadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ParseError, EOFError, OSError) as e:
        raise LoadError(f"corrupt or unreadable DOCX ({type(e).__name__}: {e})") from e
    except (ValueError, NotImplementedError, RuntimeError) as e:  # e.g. an unknown compression
        raise LoadError(f"corrupt or unreadable DOCX ({type(e).__name__}: {e})") from e
    text = b.text()
    if not text.strip():
        raise LoadError("DOCX has no text")
    return Parsed(text, title or next((h.text for h in b.headings), path.stem), b.headings)
