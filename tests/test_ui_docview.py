"""The document view (issue 16, items 2, 3, 6): outline and page jump, a quote over a page
break labelled and boxed on both pages, exported quotes wholly inside their blockquote."""

from __future__ import annotations

import base64
import html
import io
import re

import numpy as np

from ncpi_qa.apps.chat.docview import render_document
from ncpi_qa.apps.chat.export import export_markdown
from ncpi_qa.apps.chat.pdfpage import MARK_LINE, page_image
from ncpi_qa.apps.chat.turns import dump_turns, restore_turns, with_pages
from ncpi_qa.ingest.documents import load_document
from ncpi_qa.schema import Turn
from tests.ui_pdfs import CROSS_HEAD, CROSS_QUOTE, SECTIONS, boats, cross_pdf, outline_pdf


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_outline_anchors_and_page_jump(tmp_path):
    doc = load_document(outline_pdf(tmp_path / "harbour.pdf"))
    quote = boats(5, 3)
    start = doc.text.index(quote)
    out = render_document(doc, start, start + len(quote))
    nav = re.search(r'<nav class="outline".*?</nav>', out).group(0)
    titles = [_text(a) for a in re.findall(r"<a [^>]*>.*?</a>", nav)]
    assert titles == [t for t, _ in SECTIONS]  # the PDF's bookmarks, in order
    assert "Outline (6 headings)" in nav and 'class="lvl-2"' in nav  # "Findings continued"
    pages = [_text(m) for m in re.findall(r'<span class="meta">(p\. \d+)</span>', nav)]
    assert pages == [f"p. {n}" for n in range(1, 7)]
    for k, (title, _) in enumerate(SECTIONS):  # each entry jumps to its heading's anchor
        assert f'data-jump="doc-h-{k}">{title}</a>' in nav
        at = out.index("</span>", out.index(f'id="doc-h-{k}"'))
        assert _text(out[at:]).startswith(title)
    for n in range(1, 7):
        assert f'id="doc-p-{n}" data-page="{n}"' in out
    # the jump form opens on the quote's page; the text itself is unchanged by the anchors
    assert 'min="1" max="6" value="5"' in out
    body = re.search(r'<div class="passage doc-text"[^>]*>(.*)</div></section>', out, re.S).group(1)
    assert _text(body) == doc.text
    assert re.search(r'<mark id="quote-mark">(.*?)</mark>', body).group(1) == html.escape(quote)
    assert "quote on p. 5" in out


def _outline_pixels(uri: str) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")
    return (np.asarray(img) == np.array(MARK_LINE[:3], dtype=np.uint8)).all(axis=2)


def test_quote_over_a_page_break_is_labelled_and_boxed_on_both_pages(tmp_path):
    pdf = cross_pdf(tmp_path / "canal.pdf")
    doc = load_document(pdf)
    start = doc.text.index(CROSS_HEAD)
    end = start + len(CROSS_QUOTE)
    assert doc.text[start:end] == CROSS_QUOTE
    cite = {"n": 1, "doc_id": doc.doc_id, "quote": CROSS_QUOTE, "start": start, "end": end,
            "page": 1, "label": "Canal lock survey · p. 1"}  # fmt: skip
    turn = with_pages(Turn(question="q", citations=[cite]), {doc.doc_id: doc})
    assert turn.citations[0].label == "Canal lock survey · pp. 1–2"
    assert turn.citations[0].pages == [1, 2]
    restored = restore_turns(dump_turns([turn]), 5)[0].citations[0]
    assert restored.pages == [1, 2] and restored.label.endswith("pp. 1–2")
    uri, marked = page_image(pdf, 1, CROSS_QUOTE)
    boxes = _outline_pixels(uri)
    half = boxes.shape[0] // 2  # page 1 above, page 2 below
    assert marked and boxes[:half].sum() > 100 and boxes[half:].sum() > 100
    single, marked1 = page_image(pdf, 1, "Lock 3 was painted in spring")
    assert marked1 and _outline_pixels(single).shape[0] < boxes.shape[0] * 0.6
    view = render_document(doc, start, end, (uri, marked, 1))
    assert "quote on pp. 1–2" in view and "Pages 1–2 as printed" in view
    assert 'data-pages="1–2"' in view


def test_export_keeps_every_line_of_a_quote_in_its_blockquote():
    quote = "First line\r\nsecond line\u2028third\n\nafter a blank line"
    cite = {"n": 1, "doc_id": "d", "title": "T", "section": "", "page": None, "quote": quote,
            "start": 0, "end": 5}  # fmt: skip
    turn = {"question": "Q?", "answer": "A [1]", "citations": [cite]}
    md = export_markdown([Turn.model_validate(turn)]).splitlines()
    at = next(i for i, line in enumerate(md) if line.startswith("> First line"))
    block = md[at - 1 : at + 6]
    assert block == ["> ```text", "> First line", "> second line", "> third", ">",
                     "> after a blank line", "> ```"]  # fmt: skip
    assert md[at + 6 : at + 7] in ([], [""])  # the blockquote ends with the quote
