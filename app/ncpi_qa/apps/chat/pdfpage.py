"""A PDF page as the reader sees it, rendered with pypdfium2, with the quoted text marked.

The quote comes from the extracted text, whose spacing, line breaks and hyphenation differ
from the PDF's text layer (and whose running headers and footers are left out), so the two
are compared on their letters and digits only. A quote that runs over a page break is
boxed on both pages, shown one above the other in one image. The image is returned as a
``data:`` URI (no extra route, nothing fetched from elsewhere).
"""

from __future__ import annotations

import base64
import io
import logging
import unicodedata
from pathlib import Path

log = logging.getLogger(__name__)
MARK_FILL = (255, 214, 0, 90)
MARK_LINE = (160, 110, 0, 255)


EDGE = 200  # letters and digits of furniture (header, footer) allowed beside a page break


def _letters(text: str) -> tuple[str, list[int]]:
    """The letters and digits of ``text``, lower case (NFKC: ligatures split), and for each
    its index in ``text``."""
    out, where = [], []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch) if ord(ch) > 127 else ch:
            if c.isalnum():
                out.append(c.lower())
                where.append(i)
    return "".join(out), where


def _find(page_text: str, quote: str, last: bool = False, within: int | None = None):
    hay, where = _letters(page_text)
    needle, _ = _letters(quote)
    if not needle:
        return None
    at = hay.rfind(needle) if last else hay.find(needle)
    if at < 0:
        return None
    if within is not None:  # the part must touch the page's end (last) or start
        if (len(hay) - at - len(needle) if last else at) > within:
            return None
    first, end = where[at], where[at + len(needle) - 1]
    return first, end - first + 1


def find_quote(page_text: str, quote: str) -> tuple[int, int] | None:
    """(first char index, char count) of ``quote`` in the page's text layer, or None."""
    return _find(page_text, quote)


def find_split(this_page: str, next_page: str, quote: str, split: int | None = None):
    """Where a quote that runs over a page break lies on the two pages: ((first, count) on
    this page, (first, count) on the next), or None. ``split`` is the quote's character at
    which the next page starts, when known; otherwise the longest run of its words (two at
    least each side) that ends this page's text and whose rest starts the next page's."""
    if split is not None:
        tries = [(quote[:split], quote[split:])]
    else:
        words = quote.split()
        tries = [(" ".join(words[:k]), " ".join(words[k:])) for k in range(len(words) - 2, 1, -1)]
    for head, tail in tries:
        a = _find(this_page, head, last=True, within=EDGE)
        b = _find(next_page, tail, within=EDGE) if a is not None else None
        if a is not None and b is not None:
            return a, b
    return None


def _draw(page, image, found, scale: float) -> bool:
    from PIL import ImageDraw

    textpage, height, marked = page.get_textpage(), page.get_height(), False
    draw = ImageDraw.Draw(image, "RGBA")
    for k in range(textpage.count_rects(*found)):
        left, bottom, right, top = textpage.get_rect(k)
        box = [left * scale, (height - top) * scale, right * scale, (height - bottom) * scale]
        draw.rectangle(box, fill=MARK_FILL, outline=MARK_LINE, width=2)
        marked = True
    return marked


def page_image(pdf_path: Path, page_number: int, quote: str | None = None, scale: float = 1.4,
               split: int | None = None):  # fmt: skip
    """(data URI of the page as PNG, whether the quote was found and marked), or None when the
    page cannot be rendered. A quote that is not on the page whole but runs on to the next
    page is marked on both, the two pages stacked in the one image."""
    try:
        import pypdfium2 as pdfium
        from PIL import Image
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
            text = page.get_textpage().get_text_range()
            found = find_quote(text, quote) if split is None else None
            if found is not None:
                marked = _draw(page, image, found, scale)
            elif page_number < len(pdf):
                after = pdf[page_number]
                both = find_split(text, after.get_textpage().get_text_range(), quote, split)
                if both is not None:
                    second = after.render(scale=scale).to_pil().convert("RGB")
                    marked = _draw(page, image, both[0], scale)
                    marked = _draw(after, second, both[1], scale) and marked
                    gap = int(12 * scale)
                    stacked = Image.new(
                        "RGB",
                        (max(image.width, second.width), image.height + gap + second.height),
                        (128, 128, 128),
                    )
                    stacked.paste(image, (0, 0))
                    stacked.paste(second, (0, image.height + gap))
                    image = stacked
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), marked
    except Exception as e:
        log.warning("cannot render page %s of %s: %s", page_number, pdf_path, e)
        return None
    finally:
        pdf.close()
