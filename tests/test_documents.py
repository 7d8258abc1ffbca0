"""Loaders for each format, on the committed fixture corpus, including bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.documents import assign_ids, corpus_files, load_document, slug

from .conftest import FIXTURES, SHIPPED_CORPUS

GOOD = FIXTURES / "corpus"
BAD = FIXTURES / "bad"


def test_markdown_seed_page_is_clean_with_title_and_note():
    doc = load_document(SHIPPED_CORPUS / "ncpi-2019-commissioner-page.md")
    assert doc.doc_id == "ncpi-2019-commissioner-page"
    assert doc.title == "PCC web page on the 2019 HMICFRS child protection report"
    assert "commissioner" in doc.note.lower()
    assert "all 64 inspections" in doc.text
    assert "---" not in doc.text and "#" not in doc.text  # front matter and markup gone
    assert "\u00a0" not in doc.text
    h1 = "HMICFRS - National Child Protection Inspections 2019"  # the page's own heading
    assert [h.text for h in doc.headings] == [h1, "PCC's response"]
    for h in doc.headings:
        assert doc.text[h.start : h.end] == h.text
    assert doc.pages == []


def test_pdf_keeps_page_numbers_and_bookmarks():
    doc = load_document(GOOD / "riverside-inspection.pdf")
    assert doc.kind == "pdf"
    assert [p[2] for p in doc.pages] == [1, 2, 3]
    at = doc.text.index("detained 12 children")
    assert doc.page_at(at) == 2
    assert doc.page_at(doc.text.index("7 recommendations")) == 3
    assert [h.text for h in doc.headings] == ["Overview", "Custody", "Recommendations"]
    assert doc.title == "Riverside Constabulary inspection (fixture)"


def test_docx_headings_lists_and_title():
    doc = load_document(GOOD / "lakeside-response.docx")
    assert doc.title == "Lakeside PCC response (fixture)"
    assert "• A review of custody provision for children" in doc.text
    assert {"Actions", "Funding"} <= {h.text for h in doc.headings}
    assert "£250,000" in doc.text


def test_html_drops_scripts_and_nav_keeps_structure():
    doc = load_document(GOOD / "fixture-hub.html")
    assert doc.title == "Safeguarding hub guide (fixture)"
    assert "tracking" not in doc.text and "Home | About" not in doc.text
    assert "• Social workers from the council" in doc.text
    assert "September 2016" in doc.text
    assert "Who works in the hub" in [h.text for h in doc.headings]


def test_txt_detects_title_and_headings():
    doc = load_document(GOOD / "fixture-notes.txt")
    assert doc.title == "Fixture notes on multi-agency safeguarding"
    assert "Membership" in [h.text for h in doc.headings]


WRAPPED_TXT = """Wrapped notes

The partnership met nine times in 2019 and agreed
a shared training plan for
front-line staff.

- first item that is
  continued on the next line
- second item
"""

WRAPPED_MD = """# Wrapped notes

The partnership met nine times in 2019 and agreed
a shared training plan for
front-line staff.

An address line with a hard break  
Second line of the address\\
Third line
"""


@pytest.mark.parametrize(("name", "body"), [("w.txt", WRAPPED_TXT), ("w.md", WRAPPED_MD)])
def test_soft_line_breaks_in_a_paragraph_read_as_spaces(tmp_path, name, body):
    """A hard-wrapped paragraph is one line of text (quotes and exports never hold its line
    breaks); list items and Markdown's hard breaks keep theirs."""
    path = tmp_path / name
    path.write_text(body)
    doc = load_document(path)
    assert doc.title == "Wrapped notes"
    assert (
        "The partnership met nine times in 2019 and agreed a shared training plan for "
        "front-line staff." in doc.text
    )
    if name.endswith(".txt"):
        assert "• first item that is continued on the next line\n• second item" in doc.text
    else:
        assert "An address line with a hard break\nSecond line of the address\nThird line" in (
            doc.text
        )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("corrupt.pdf", "corrupt or unreadable PDF"),
        ("empty.pdf", "empty file"),
        ("encrypted.pdf", "encrypted PDF"),
        ("scanned.pdf", "no extractable text"),
        ("binary.txt", "binary file"),
        ("latin1.txt", "not UTF-8"),
        ("broken.docx", "corrupt or unreadable DOCX"),
    ],
)
def test_bad_files_raise_load_error_with_reason(name, reason):
    with pytest.raises(LoadError, match=reason):
        load_document(BAD / name)


def test_unsupported_type(tmp_path):
    p = tmp_path / "picture.png"
    p.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(LoadError, match="unsupported file type"):
        load_document(p)


def test_corpus_files_skip_readme_and_hidden(tmp_path):
    shutil.copytree(GOOD, tmp_path / "c")
    (tmp_path / "c" / "README.md").write_text("how to add documents")
    (tmp_path / "c" / ".hidden.txt").write_text("secret")
    names = [p.name for p in corpus_files(tmp_path / "c")]
    assert "README.md" not in names and ".hidden.txt" not in names
    assert len(names) == 4


def test_ids_are_stable_and_disambiguated(tmp_path):
    for name in ("Report 2019.pdf", "Report 2019.docx", "notes.txt"):
        (tmp_path / name).write_text("x")
    ids = assign_ids(sorted(tmp_path.iterdir()), tmp_path)
    assert ids[tmp_path / "notes.txt"] == "notes"
    pdf, docx = ids[tmp_path / "Report 2019.pdf"], ids[tmp_path / "Report 2019.docx"]
    assert pdf.startswith("report-2019-") and docx.startswith("report-2019-") and pdf != docx
    assert ids == assign_ids(sorted(tmp_path.iterdir()), tmp_path)


COLLIDING = ["ncpi report.md", "ncpi_report.md", "Report.txt", "report.txt", "报告.md", "审查.md"]


def test_names_that_slug_alike_never_share_an_id(tmp_path):
    files = [tmp_path / n for n in COLLIDING]
    ids = assign_ids(files, tmp_path)
    assert len(set(ids.values())) == len(files)
    # Readable: the slug leads, non-ASCII letters are kept, plain names are kept whole.
    assert ids[tmp_path / "ncpi report.md"].startswith("ncpi-report-")
    assert ids[tmp_path / "report.txt"] == "report"
    assert ids[tmp_path / "报告.md"] == "报告" and ids[tmp_path / "审查.md"] == "审查"
    assert slug("rapport-d'été") == "rapport-d-été"
    # Stable per path: a file's id does not depend on which other files are there.
    for f in files:
        assert assign_ids([f], tmp_path)[f] == ids[f]
    # A file named like another's hashed id does not take it.
    clash = tmp_path / f"{ids[tmp_path / 'Report.txt']}.md"
    with_clash = assign_ids([*files, clash], tmp_path)
    assert len(set(with_clash.values())) == len(files) + 1


def test_pdf_generated_at_test_time(tmp_path):
    """A PDF made now (not the committed one) loads with the right page for each line."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(1, 4):
        pdf.add_page()
        pdf.multi_cell(0, 7, f"Page {n} says the force held {n * 10} reviews in total.")
    path = tmp_path / "made.pdf"
    pdf.output(str(path))
    doc = load_document(Path(path))
    for n in range(1, 4):
        assert doc.page_at(doc.text.index(f"held {n * 10} reviews")) == n
