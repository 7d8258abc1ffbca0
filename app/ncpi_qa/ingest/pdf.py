"""The PDF loader: text by page, bookmarks as headings (pypdf)."""

from __future__ import annotations

import re
from pathlib import Path

from ncpi_qa.ingest.blocks import LoadError, TextBuilder


def load_pdf(path: Path, data: bytes) -> dict:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LoadError("encrypted PDF (needs a password); save an unencrypted copy")
            except LoadError:
                raise
            except Exception as e:
                raise LoadError(f"encrypted PDF that cannot be opened ({e})") from e
        n_pages = len(reader.pages)
        outline = _pdf_outline(reader)
        b = TextBuilder()
        for i, page in enumerate(reader.pages):
            b.page(i + 1)
            for title, level in outline.get(i, []):
                b.mark(title, level)
            raw = (page.extract_text() or "").replace("\r\n", "\n").replace("\x00", "")
            for para in re.split(r"\n[ \t]*\n", raw):
                b.paragraph(re.sub(r"[ \t]+\n", "\n", para))
            b.end_page()
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoadError:
        raise
    except (PdfReadError, Exception) as e:
        raise LoadError(f"corrupt or unreadable PDF ({type(e).__name__}: {e})") from e
    text = b.text()
    if not text.strip() or not b.pages:
        raise LoadError(f"no extractable text in {n_pages} page(s) (empty or scanned PDF)")
    title = meta_title.strip() or next((h.text for h in b.headings), path.stem)
    return {"text": text, "title": title, "headings": b.headings, "pages": b.pages}


def _pdf_outline(reader) -> dict[int, list[tuple[str, int]]]:
    """Bookmarks by the page they start on: {page index: [(title, level)]}."""
    found: dict[int, list[tuple[str, int]]] = {}

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                found.setdefault(reader.get_destination_page_number(item), []).append(
                    (str(item.title), level)
                )
            except Exception:
                continue

    try:
        walk(reader.outline, 1)
    except Exception:
        return {}
    return found
