"""Issue 26 in Chromium at 1366x900 and 390x844, through the real server: every control of
Sources reachable on a phone (item 1), other tabs kept current after an upload and a
removal (3), the citation's page image beside its quote with zoom and the chat kept on
screen by the document view (4), the file's own figures (5), one message at a time in the
upload panel (6), a contents page one entry a line (7), and axe-core with a citation open and
with Sources open. Screenshots of each state: test-artifacts/finish-*.png.

One server for the module over a writable copy of corpus/ plus harbour-review.pdf (an
outline, a fact a page) and a report with a contents page (CONTENTS, below).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.browser_app import ask, axe, served_chat
from tests.ui_pdfs import boats, long_pdf, outline_pdf

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
CONTENTS = [("Introduction", 3), ("Chapter 1: Civil disobedience", 9),
            ("Chapter 2: Kettling and containment", 14), ("Chapter 3: Public order training", 21),
            ("Annex A: Methodology", 30)]  # fmt: skip
BOATS_Q = "How many boats did the violet team log near the ferry pier?"
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def contents_pdf(path: Path) -> Path:
    """Three pages: a title page, a contents page (CONTENTS, title left, page number right,
    as printed reports set them), an introduction."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Protest policing review")
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Protest policing review\n\nA report on how forces police protests.")
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.cell(0, 10, "Contents", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=12)
    for title, number in CONTENTS:
        pdf.cell(150, 8, title)
        pdf.cell(0, 8, str(number), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    pdf.multi_cell(0, 8, "Introduction\n\nThe review looked at 12 forces in 2020.")
    pdf.output(str(path))
    return path


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    from ncpi_qa.settings import Settings

    root = tmp_path_factory.mktemp("browser-finish")
    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus, ignore=shutil.ignore_patterns("README*"))
    outline_pdf(corpus / "harbour-review.pdf")
    contents_pdf(corpus / "protest-review.pdf")
    settings = Settings(corpus_dir=corpus, store_dir=root / "store", abstain_threshold=0.0)
    with served_chat(settings, embedder) as served:
        yield served


def _open(context, app):
    pg = context.new_page()
    pg.goto(app["url"], wait_until="load")
    pg.get_by_label("Your question").wait_for(timeout=30_000)
    return pg


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def page(chromium, app, request):
    context = chromium.new_context(viewport=SIZES[request.param])
    pg = _open(context, app)
    pg.size = request.param
    yield pg
    context.close()


def _shot(pg, artifacts, name: str) -> None:
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(artifacts / f"finish-{name}-{pg.size}.png"))


def _upload(pg, path: Path) -> None:
    pg.get_by_role("tab", name="Add documents").click()
    pg.locator("#upload input[type=file]").set_input_files(str(path))


def _check_axe(pg, artifacts, name: str) -> None:
    bad = axe(pg)
    (artifacts / f"axe-finish-{name}-{pg.size}.json").write_text(json.dumps(bad, indent=1))
    assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]


def _inside(pg, selector: str) -> list[str]:
    """Controls matching ``selector`` that are not wholly inside the viewport's width."""
    return pg.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].filter(e => {
            const r = e.getBoundingClientRect();
            return r.width === 0 || r.left < 0 || r.right > window.innerWidth; })
            .map(e => [Math.round(e.getBoundingClientRect().left),
                       Math.round(e.getBoundingClientRect().right), e.outerHTML.slice(0, 80)])""",
        selector,
    )


def test_upload_counts_sources_on_a_phone_and_removal(page, app, tmp_path, artifacts):
    """Items 1, 5: the file's own figures; every control of Sources in reach and usable."""
    from playwright.sync_api import expect

    name = f"station-notes-{page.size}.pdf"
    pdf = long_pdf(tmp_path / name, 3)
    _upload(page, pdf)
    status = page.locator("#upload-status")
    expect(status).to_contain_text(f"Added {name}", timeout=180_000)
    store = app["holder"].qa.store
    row = next(d for d in store.manifest.documents if d.source == name)
    n_docs = len(store.manifest.documents)
    expect(status).to_have_text(
        f"Added {name}: 3 pages, {row.n_chunks} chunks. The index now holds {n_docs} "
        "documents. You can ask about it now."
    )
    page.get_by_role("tab", name="Sources").click()
    card = page.locator("#sources tr", has_text=name)
    expect(card).to_contain_text(str(row.n_chunks))  # the same figure as the message
    card.scroll_into_view_if_needed()
    _shot(page, artifacts, "sources")
    assert _inside(page, "#sources button, #sources time, #sources td") == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[page.size]["width"], width
    _check_axe(page, artifacts, "sources")
    card.get_by_role("button", name="Remove Long station report").click()
    expect(card.get_by_role("button", name="Remove it")).to_be_focused()
    assert _inside(page, "#sources button") == []
    _shot(page, artifacts, "sources-confirm")
    card.get_by_role("button", name="Remove it").click()
    expect(page.locator("#status")).to_have_text(
        re.compile(
            rf"Removed Long station report \({re.escape(name)}\) from the index: "
            rf"{n_docs - 1} documents? (is|are) indexed now\."
        )  # fmt: skip
    )
    expect(page.locator("#sources tr", has_text=name)).to_have_count(0)


def test_phone_first_screen_shows_the_whole_placeholder(page, artifacts):
    """Item 1: the question box's placeholder fits the box at both widths."""
    box = page.locator("#question textarea")
    fits = box.evaluate(
        """(t) => { const s = getComputedStyle(t), c = document.createElement('canvas')
            .getContext('2d'); c.font = s.font;
            const room = t.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            return {need: c.measureText(t.placeholder).width, room: room}; }"""
    )
    assert fits["need"] <= fits["room"], fits
    _shot(page, artifacts, "first-screen")


def test_other_tabs_see_an_upload_and_a_removal(chromium, app, tmp_path, artifacts):
    """Item 3: another tab's Sources and notice follow an upload and a removal."""
    from playwright.sync_api import expect

    ctx = chromium.new_context(viewport=SIZES["desktop"])
    a, b = _open(ctx, app), _open(ctx, app)
    b.get_by_role("tab", name="Sources").click()
    rows = b.locator("#sources tbody tr")
    before = rows.count()
    _upload(a, long_pdf(tmp_path / "shared-notes.pdf", 2))
    expect(a.locator("#upload-status")).to_contain_text("Added shared-notes.pdf", timeout=180_000)
    # the uploader's banner is done at once too, not "being indexed (85%)" beside "Added"
    # until the next tick (found by hand on a 24-page report)
    expect(a.locator("#notice")).not_to_contain_text("being indexed", timeout=500)
    expect(b.locator("#sources tr", has_text="shared-notes.pdf")).to_have_count(1, timeout=10_000)
    expect(rows).to_have_count(before + 1)
    expect(b.locator("#notice")).to_contain_text("shared-notes.pdf was added")
    a.get_by_role("tab", name="Sources").click()
    card = a.locator("#sources tr", has_text="shared-notes.pdf")
    card.get_by_role("button", name=re.compile("Remove")).click()
    card.get_by_role("button", name="Remove it").click()
    expect(a.locator("#status")).to_contain_text("Removed", timeout=60_000)
    expect(b.locator("#sources tr", has_text="shared-notes.pdf")).to_have_count(0, timeout=10_000)
    expect(b.locator("#notice")).to_contain_text(
        "shared-notes.pdf was removed from the index: answers no longer include it"
    )
    b.screenshot(path=str(artifacts / "finish-other-tab-desktop.png"))
    ctx.close()


def test_the_page_beside_its_quote_and_the_chat_kept_on_screen(page, app, artifacts):
    """Item 4: the cited page as printed under the quote, enlarged on demand; the whole
    document opens without moving the chat (desktop) or with one click back (phone)."""
    from playwright.sync_api import expect

    ask(page, BOATS_Q, 1)
    chip = page.locator("#turn-0 .chip", has_text="p. 5").first
    chip.scroll_into_view_if_needed()
    chip.click()
    view = page.locator("#panel .citation-view")
    expect(view.locator("mark")).to_have_text(boats(5, 7), timeout=60_000)
    image = view.locator('img[data-page="5"]')
    expect(image).to_have_attribute("data-marked", "true")
    shown = image.evaluate("i => i.getBoundingClientRect().width")
    assert shown >= min(400, 0.75 * SIZES[page.size]["width"]), shown  # most of the panel
    _shot(page, artifacts, "citation-page")
    _check_axe(page, artifacts, "citation")
    zoom = view.get_by_role("button", name="Enlarge the page")
    zoom.click()
    natural = image.evaluate("i => i.naturalWidth")
    expect(view.locator(".page-image.zoomed")).to_have_count(1)
    assert image.evaluate("i => i.getBoundingClientRect().width") >= natural - 1 > shown
    _shot(page, artifacts, "zoomed")
    page.keyboard.press("Escape")
    expect(view.locator(".page-image.zoomed")).to_have_count(0)

    opener = page.get_by_role("button", name="Open the whole document at this quote")
    opener.scroll_into_view_if_needed()  # as a user scrolls to it; then what the app moves
    before = page.evaluate("window.scrollY")
    opener.click()
    doc = page.locator("#panel .document-view")
    expect(doc.locator("mark")).to_have_text(boats(5, 7), timeout=60_000)
    expect(doc.locator("mark")).to_be_in_viewport()
    page.wait_for_timeout(500)
    _shot(page, artifacts, "document")
    if page.size == "desktop":
        assert page.evaluate("window.scrollY") == before  # the window did not move
        expect(page.locator("#question textarea")).to_be_in_viewport()
        expect(page.locator("#turn-0 .answer")).to_be_in_viewport()
    doc.get_by_role("link", name="Back to answer 1").click()
    expect(page.locator("#turn-0 .answer")).to_be_in_viewport()


def test_one_message_at_a_time_in_the_upload_panel(page, tmp_path, artifacts):
    """Item 6: a new file replaces the panel's old message; a wrong type is said there, not
    in a toast beside it."""
    from playwright.sync_api import expect

    empty = tmp_path / "empty.txt"
    empty.write_text("")
    _upload(page, empty)
    status = page.locator("#upload-status")
    expect(status).to_contain_text("Skipped empty.txt", timeout=60_000)
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    page.locator("#upload input[type=file]").set_input_files(str(table))
    expect(status).to_have_text(
        "Skipped table.csv: unsupported file type '.csv' (accepted: .docx, .htm, .html, .md, "
        ".pdf, .txt). Nothing was added; the index is unchanged."
    )
    page.wait_for_timeout(500)
    expect(page.locator(".toast-body")).to_have_count(0)
    _shot(page, artifacts, "upload-message")


def test_a_contents_page_reads_one_entry_a_line(page, app, artifacts):
    """Item 7: the contents page of a PDF in the document view, each entry with its page."""
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Sources").click()
    row = page.locator("#sources tr", has_text="protest-review.pdf")
    row.get_by_role("button").first.click()
    text = page.locator("#panel .document-view .doc-text")
    expect(text).to_contain_text("Contents", timeout=60_000)
    lines = [line.strip() for line in text.inner_text().splitlines()]
    for title, number in CONTENTS:
        assert f"{title} {number}" in lines, lines
    _shot(page, artifacts, "contents")
