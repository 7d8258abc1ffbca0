"""The chat in Chromium (conftest.py's server, browser and page, as in test_browser.py): a
PDF uploaded and answered with its page, a corrupt PDF refused with its reason, and the
server refusing foreign hosts, cross-origin and oversized uploads and files named by URL."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.browser_app import Q64, ask

PDF_FACT = "The delta inspection of Northshire custody suites found 37 cells in use."
PDF_QUESTION = "How many cells were in use in the Northshire custody suites?"
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.set_title("Delta custody inspection")
    pdf.add_page()
    pdf.multi_cell(0, 8, "Delta inspection\n\nThis inspection looked at the custody suites.")
    pdf.add_page()
    pdf.multi_cell(0, 8, f"Findings\n\n{PDF_FACT} Each cell was checked twice a day.")
    pdf.output(str(path))


def _upload(pg, path: Path) -> None:
    pg.get_by_role("tab", name="Add documents").click()
    pg.locator("#upload input[type=file]").set_input_files(str(path))


def test_upload_pdf_then_cited_answer_with_its_page(page, app, tmp_path):
    from playwright.sync_api import expect

    pdf = tmp_path / "delta-inspection.pdf"
    _pdf(pdf)
    _upload(page, pdf)
    status = page.locator("#upload-status")
    expect(status).to_contain_text("Added delta-inspection.pdf", timeout=120_000)
    assert (app["settings"].corpus_dir / "delta-inspection.pdf").exists()
    expected = app["holder"].qa.ask(PDF_QUESTION).to_dict()
    cite = next(c for c in expected["citations"] if "37 cells" in c["quote"])
    assert cite["page"] == 2
    ask(page, PDF_QUESTION, 1)
    expect(page.locator("#turn-0 .answer")).to_contain_text("37")
    chip = page.locator("#turn-0 .chip", has_text="p. 2")
    expect(chip.first).to_be_visible()
    chip.first.click()
    expect(page.locator("#panel mark")).to_contain_text("37 cells")
    # the whole document opens with page 2 as printed, the quote marked on it
    expect(page.locator("#panel mark")).to_be_in_viewport()  # scrolled to: the panel is still
    opener = page.get_by_role("button", name="Open the whole document at this quote")
    opener.scroll_into_view_if_needed()  # the side column scrolls on its own (issue 26 item 4)
    opener.click()
    image = page.locator('#panel .document-view img[data-page="2"]')
    expect(image).to_have_attribute("data-marked", "true", timeout=60_000)
    page.wait_for_function(  # decoded and drawn (a data: image decodes asynchronously)
        """() => { const i = document.querySelector('#panel .document-view img[data-page="2"]');
        return i && i.complete && i.naturalWidth > 300; }""",
        timeout=60_000,
    )
    expect(page.locator("#panel .document-view mark")).to_contain_text("37 cells")
    page.get_by_role("tab", name="Sources").click()
    expect(page.locator("#sources")).to_contain_text("Delta custody inspection")


def test_corrupt_pdf_is_refused_with_its_reason(page, app, tmp_path):
    from playwright.sync_api import expect

    from ncpi_qa.errors import LoadError
    from ncpi_qa.ingest.documents import load_document

    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj <<>> garbage, not a real PDF\n")
    with pytest.raises(LoadError) as why:
        load_document(bad)
    before = sorted(p.name for p in app["settings"].corpus_dir.iterdir())
    _upload(page, bad)
    status = page.locator("#upload-status")
    expect(status).to_contain_text(f"Skipped broken.pdf: {why.value}", timeout=60_000)
    assert sorted(p.name for p in app["settings"].corpus_dir.iterdir()) == before
    ask(page, Q64, 1)  # everything else still answers
    expect(page.locator("#turn-0 .answer")).to_contain_text("64")


def test_server_refuses_foreign_hosts_and_cross_origin_uploads(app):
    def post(headers):
        req = urllib.request.Request(
            app["url"] + "gradio_api/upload",
            data=b"--x--\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=x", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    # a file named by URL in an event's data is refused before Gradio could fetch it
    payload = {
        "data": [{"path": "http://192.0.2.1/x.pdf", "meta": {"_type": "gradio.FileData"}}],
        "fn_index": 0,
        "session_hash": "abc",
    }
    req = urllib.request.Request(
        app["url"] + "gradio_api/queue/join",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 400
    assert post({"Origin": "http://evil.example"}) == 403
    assert post({"Host": "evil.example"}) == 421
    size = int(app["settings"].max_file_mb * 1024 * 1024) + 10**6
    assert post({"Content-Length": str(size)}) == 413
