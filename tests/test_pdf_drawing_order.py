"""A PDF read in the order a person reads it, not the order it was drawn in (issue 26, found
by hand on a reportlab report): a contents entry whose dot leader and page number were drawn
before its title reads "Title . . . 4" with its own page number, and the contents page is
not indexed; a bullet pypdf cannot name (reportlab's, WinAnsi code 127: U+007F) is "•" and
no control character reaches the text; a heading wrapped over two lines, the second in
lower case, is one heading, once in the outline.

The PDFs are made here (tests/fixtures/pdf/report.py, layout ``drawn-apart``), so the test
knows every title, page and list item."""

from __future__ import annotations

import dataclasses
import random
import re

import pytest
from pypdf import PdfReader

from ncpi_qa.ingest.chunking import chunk_document
from ncpi_qa.ingest.documents import load_document
from ncpi_qa.ingest.pdf_lines import Line, tidy_lines
from ncpi_qa.ingest.text import is_toc_line

from .fixtures.pdf.report import LAYOUTS, make_report

NAMES = [
    "Improving the police response to domestic abuse and to the children who see it",
    "Early help",
    "How partners share what they know about children at risk of exploitation",
    "Leadership",
]
LABELS = [f"{k + 1}. {name}" for k, name in enumerate(NAMES)]
WORDS = (
    "the inspectors found that officers recorded each referral promptly and the force "
    "worked with partners to protect vulnerable children across the county during the year "
    "safeguarding accountability supervision arrangements consistently"
).split()
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _sentences(rng: random.Random, n: int) -> str:
    out = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def _report(tmp_path, bookmarks: bool = True, seed: int = 5):
    rng = random.Random(seed)
    chapters, items = [], []
    for name in NAMES:
        first = _sentences(rng, 5)
        item = f"the {rng.choice(WORDS)} item of a list about {name.lower()}"
        items.append(item)
        paras = [first, "• " + _sentences(rng, 2), "• " + item, _sentences(rng, 6)]
        chapters.append((name, paras, first))
    layout = dataclasses.replace(LAYOUTS["drawn-apart"], bookmarks=bookmarks)
    path = tmp_path / "apart.pdf"
    made = make_report(path, "Harbourside review", [(n, p) for n, p, _ in chapters], layout)
    return path, load_document(path), made, [c[2] for c in chapters], items


def test_the_fixture_draws_out_of_reading_order(tmp_path):
    """What pypdf reads from this layout is out of order, as it was on the reportlab report:
    a leader and page number before its title (glued to it, or on the line before), and
    the bullet as U+007F."""
    path, _, made, _, _ = _report(tmp_path)
    reader = PdfReader(path)
    contents = reader.pages[1].extract_text()
    assert re.search(rf"\. {made['starts'][1]}{re.escape(LABELS[1])}", contents)  # glued
    assert re.search(rf"\. {made['starts'][2]}\n{re.escape(LABELS[2][:20])}", contents)
    assert "\x7f" in reader.pages[made["starts"][0] - 1].extract_text()
    wrapped = [lines for lines in made["heading_lines"] if len(lines) > 1]
    assert len(wrapped) >= 2 and all(lines[1][:1].islower() for lines in wrapped)


def test_contents_entries_read_title_first_with_their_own_page(tmp_path):
    _, doc, made, _, _ = _report(tmp_path)
    start = doc.text.index("Contents\n")
    end = doc.text.index(f"\n{LABELS[0]}\n", start)
    block = doc.text[start + len("Contents") : end].strip()
    flat = " ".join(block.split("\n"))
    at = []
    for label, page in zip(LABELS, made["starts"], strict=True):
        m = re.search(rf"{re.escape(label)}(?: \.){{4,}} {page}(?= |$)", flat)
        assert m, f"{label!r} does not end with its page {page}: {flat[:300]!r}"
        at.append(m.start())
    assert at == sorted(at)
    lines = block.split("\n")
    assert sum(is_toc_line(ln) for ln in lines) == len(LABELS)  # one wrapped entry's head
    assert all(is_toc_line(ln) or not re.search(r"\. \.", ln) for ln in lines)
    chunks = chunk_document(doc)
    assert all(doc.page_at(c.start) != 2 for c in chunks), "the contents page was indexed"
    assert not any(re.search(r"(?: \.){4}", c.text) for c in chunks)


def test_bullets_drawn_apart_are_bullets_and_no_control_characters(tmp_path):
    _, doc, _, _, items = _report(tmp_path)
    assert not CONTROL.search(doc.text)
    lines = doc.text.split("\n")
    for item in items:
        assert f"• {item}" in lines  # the bullet joined to its item, one item a line
    bullets = [ln for ln in lines if ln.startswith("•")]
    assert len(bullets) == 2 * len(NAMES) and all(ln.startswith("• ") for ln in bullets)
    for c in chunk_document(doc):
        assert not CONTROL.search(c.text)


@pytest.mark.parametrize("bookmarks", [True, False], ids=["bookmarks", "font-only"])
def test_a_wrapped_heading_is_one_heading(tmp_path, bookmarks):
    """With bookmarks (their titles join the lines) and without (same size and weight)."""
    _, doc, made, firsts, _ = _report(tmp_path, bookmarks=bookmarks)
    chapters = [h for h in doc.headings if h.text[:2] in {"1.", "2.", "3.", "4."}]
    assert [h.text for h in chapters] == LABELS
    assert len({h.level for h in chapters}) == 1 and (chapters[0].level == 1 or not bookmarks)
    for h, page, first in zip(chapters, made["starts"], firsts, strict=True):
        assert doc.page_at(h.start) == page
        assert doc.text[h.end :].lstrip().startswith(first[:40])  # no heading words left over
    for h in doc.headings:  # no cut copy of a chapter's title
        assert not any(label.startswith(h.text) and label != h.text for label in LABELS)
    sections = {c.section.split(" › ")[0] for c in chunk_document(doc)}
    assert sections == set(LABELS)


def _ln(text, y, x, size=11.0):
    return Line(text, y, size, False, x)


def test_tidy_lines_orders_a_baseline_left_to_right_and_joins_lone_bullets():
    texts = lambda lines: [ln.text for ln in tidy_lines(lines)]  # noqa: E731
    # leader and number drawn before the title, on its baseline
    assert texts([_ln(". . . . 4", 700, 400), _ln("Introduction", 700, 72)]) == [
        "Introduction . . . . 4"
    ]
    # a wrapped title: the leader is on its last line's baseline
    wrapped = [_ln(". . . 9", 686, 300), _ln("A long title", 700, 72), _ln("in two", 686, 72)]
    assert texts(wrapped) == ["A long title", "in two . . . 9"]
    # left to right already (a header's two parts): left as two lines
    head = [_ln("Annual report", 800, 72), _ln("Review 2026", 800, 480)]
    assert texts(head) == ["Annual report", "Review 2026"]
    # a bullet drawn apart, a little above its text's baseline; a symbol font's bullet
    item = [_ln("\x7f", 691, 77, 12.0), _ln("what victims said;", 689, 95, 14.0)]
    assert texts(item) == ["• what victims said;"]
    assert texts([_ln("\uf0b7 first item", 600, 72)]) == ["• first item"]
    assert texts([Line("\x7f", None, 0.0, False), Line("an item", None, 0.0, False)]) == [
        "• an item"
    ]
    # a dash or a number drawn apart from its item
    assert texts([_ln("-", 430, 57, 12.0), _ln("Present figures,", 428.5, 75)]) == [
        "- Present figures,"
    ]
    assert texts([_ln("2.", 500, 57), _ln("Second step", 500, 75)]) == ["2. Second step"]
    # a lone bullet a line away from the text is not its bullet; other controls go
    assert texts([_ln("•", 700, 72), _ln("Next", 680, 90)]) == ["•", "Next"]
    assert texts([_ln("a\x07b\x1fc\x85", 500, 72)]) == ["abc"]
