"""A PDF page as the reader sees it, rendered with pypdfium2, with the quoted text marked.

The quote comes from the extracted text, whose spacing and line breaks can differ from the
PDF's text layer, so both are compared with whitespace collapsed. The image is returned as a
``data:`` URI (no extra route, nothing fetched from elsewhere).
"""

from __future__ import annotations

import base64
import io
import logging
import re
from pathlib import Path

log = logging.getLogger(__name__)
MARK_FILL = (255, 214, 0, 90)
MARK_LINE = (160, 110, 0, 255)


def _collapsed(text: str) -> tuple[str, list[int]]:
    """Text with runs of whitespace made one space (and hyphen-newline joins kept), and for
    each kept character its index in the original."""
    out, where, space = [], [], False
    for i, ch in enumerate(text):
        if ch.isspace() or ch in "\x00\ufffe\x02":
            if not space and out:
                out.append(" ")
                where.append(i)
            space = True
            continue
        space = False
        out.append(ch.lower())
        where.append(i)
    return "".join(out), where


def find_quote(page_text: str, quote: str) -> tuple[int, int] | None:
    """(first char index, char count) of ``quote`` in the page's text layer, or None."""
    hay, where = _collapsed(page_text)
    needle = re.sub(r"\s+", " ", quote.strip().lower())
    if not needle:
        return None
    at = hay.find(needle)
    if at < 0:
        return None
    first, last = where[at], where[at + len(needle) - 1]
    return first, last - first + 1


def page_image(pdf_path: Path, page_number: int, quote: str | None = None, scale: float = 1.4):
    """(data URI of the page as PNG, whether the quote was found and marked), or None when the
    page cannot be rendered."""
    try:
        import pypdfium2 as pdfium
        from PIL import ImageDraw
    except ImportError:  # pragma: no cover - both are dependencies
        return None
    try:
        pdf = pdfium.PdfDocument(str(pdf_path))
    except Exception as e:  # an unreadable file: the text view still works
        log.warning("cannot open %s: %s", pdf_path, e)
        return None
    try:
        if not (1 <= page_number <= len(pdf)):
            return None
        page = pdf[page_number - 1]
        image = page.render(scale=scale).to_pil().convert("RGB")
        marked = False
        if quote:
            textpage = page.get_textpage()
            found = find_quote(textpage.get_text_range(), quote)
            if found is not None:
                height = page.get_height()
                draw = ImageDraw.Draw(image, "RGBA")
                for k in range(textpage.count_rects(*found)):
                    left, bottom, right, top = textpage.get_rect(k)
                    box = [
                        left * scale,
                        (height - top) * scale,
                        right * scale,
                        (height - bottom) * scale,
                    ]
                    draw.rectangle(box, fill=MARK_FILL, outline=MARK_LINE, width=2)
                    marked = True
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), marked
    except Exception as e:
        log.warning("cannot render page %s of %s: %s", page_number, pdf_path, e)
        return None
    finally:
        pdf.close()
