"""The chat app in a real browser: Debian's Chromium (headless, via Playwright) against one
local server per module, over a writable copy of the shipped corpus.

Covers: each answer's own citations, the whole-document view, a follow-up, a 390x844
phone, axe-core (from the npm package on disk), and that the page only ever talked to
127.0.0.1. Uploads and the server's refusals: tests/test_browser_uploads.py.
Screenshots go to test-artifacts/. ``NCPI_QA_UPDATE_SCREENSHOT=1`` also refreshes
docs/chat.png (the README's picture).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.browser_app import AXE_DIR, JTAI, Q64, ask, axe

ROOT = Path(__file__).resolve().parents[1]
DOC_ID = "ncpi-2019-commissioner-page"
SHIPPED = (ROOT / "corpus" / f"{DOC_ID}.md").read_text(encoding="utf-8")
# the sentences of the shipped page that answer Q64 and JTAI, as the page prints them
Q64_SENTENCE = (
    "This report aims to build on the findings of the previous report by exploring the key "
    "themes identified by the evidence we have gathered from all 64 inspections, and considers "
    "the ways in which the police service, its safeguarding partners and the government need to "
    "adapt and respond in order to meet the challenges they face."
)
JTAI_SENTENCE = (
    "along with Ofsted, the Care Quality Commission and Her Majesty’s Inspectorate of "
    "Probation launched the joint targeted area inspections (JTAI) of child protection."
)
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_the_expected_sentences_are_the_shipped_pages_own():
    assert Q64_SENTENCE in SHIPPED and JTAI_SENTENCE in SHIPPED


def test_each_answer_opens_its_own_citation(page, app):
    from playwright.sync_api import expect

    doc = app["holder"].qa.store.documents[DOC_ID]  # the stored text citations point into
    start = doc.text.index(Q64_SENTENCE)
    # record what the page looked like while answering: the question at once, Ask disabled
    page.evaluate(
        """() => { window.__seen = {pending: false, disabled: false};
        new MutationObserver(() => {
          if (document.querySelector('#chatlog .pending')) { window.__seen.pending = true; }
          if (document.querySelector('#ask').disabled) { window.__seen.disabled = true; }
        }).observe(document.body, {subtree: true, childList: true, attributes: true}); }"""
    )
    ask(page, Q64, 1)
    assert page.evaluate("window.__seen") == {"pending": True, "disabled": True}
    expect(page.get_by_label("Your question")).to_have_value("")
    # screen readers hear the answer through the status line (a polite live region)
    answer = page.locator("#turn-0 .answer")
    expect(answer).to_contain_text(Q64_SENTENCE)
    expect(page.get_by_role("status").locator(".sr-only")).to_have_text(answer.inner_text())
    ask(page, JTAI, 2)

    # the FIRST answer's [1] marker opens the first answer's own quote, highlighted, in view
    page.locator('#turn-0 .cite-ref[data-action="cite:0:1"]').first.click()
    panel = page.locator("#panel")
    mark = panel.locator("mark")
    expect(mark).to_have_text(Q64_SENTENCE, timeout=60_000)
    expect(mark).to_be_in_viewport()
    expect(panel).to_contain_text(f"Cited in the answer to: {Q64}")
    expect(panel.locator("h2")).to_contain_text(doc.title)
    # offsets are behind the details toggle
    offsets = f"characters {start}–{start + len(Q64_SENTENCE)}"
    expect(panel.get_by_text(offsets)).to_be_hidden()
    panel.get_by_text("Details", exact=True).click()
    expect(panel.get_by_text(offsets)).to_be_visible()
    # a chip of the second answer opens the second answer's quote
    page.locator("#turn-1 .chip").first.click()
    expect(mark).to_have_text(JTAI_SENTENCE, timeout=60_000)
    page.locator("#turn-0 .chip").first.click()
    expect(mark).to_have_text(Q64_SENTENCE, timeout=60_000)
    page.wait_for_timeout(300)
    shot = page.screenshot(path=str(AXE_DIR / "chat-with-citation.png"))
    if os.environ.get("NCPI_QA_UPDATE_SCREENSHOT") == "1":
        (ROOT / "docs" / "chat.png").write_bytes(shot)

    # copy gives clean text with the quote and the source
    page.locator("#turn-0 .copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert Q64_SENTENCE in copied and "Sources:" in copied
    assert "\\[" not in copied and "<" not in copied

    # feedback is saved locally and shown as pressed
    page.locator("#turn-0 .fb", has_text="Not helpful").click()
    expect(page.locator("#status")).to_contain_text("feedback was saved")
    expect(page.locator("#turn-0 .fb", has_text="Not helpful")).to_have_attribute(
        "aria-pressed", "true"
    )
    rows = (app["settings"].store_dir / "feedback.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["question"] == Q64 and json.loads(rows[-1])["rating"] == "down"
    # export: the conversation as Markdown with its quotes
    with page.expect_download() as download:
        page.locator("#export").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"## Q: {Q64}" in exported and f"## Q: {JTAI}" in exported
    assert f"> {Q64_SENTENCE}" in exported.splitlines()

    # the conversation survives a reload; Clear removes it, also from the browser
    page.reload(wait_until="load")
    expect(page.locator("#chatlog .turn")).to_have_count(2, timeout=30_000)
    page.locator("#turn-0 .chip").first.click()
    expect(mark).to_have_text(Q64_SENTENCE, timeout=60_000)
    page.locator("#clear").click()
    expect(page.locator("#chatlog .turn")).to_have_count(0)
    expect(panel.locator("mark")).to_have_count(0)
    page.wait_for_timeout(500)
    page.reload(wait_until="load")
    page.get_by_label("Your question").wait_for()
    page.wait_for_timeout(1500)
    expect(page.locator("#chatlog .turn")).to_have_count(0)


def test_whole_document_from_sources_with_the_quote_in_view(page, app):
    from playwright.sync_api import expect

    qa = app["holder"].qa
    ask(page, Q64, 1)
    page.get_by_role("tab", name="Sources").click()
    rows = page.locator("#sources tbody tr")
    expect(rows).to_have_count(len(qa.store.manifest.documents))
    doc = qa.store.documents[DOC_ID]
    row = rows.filter(has_text=doc.title)
    # this document's own time (tests/test_ui_browser.py)
    stamp = qa.store.manifest.document(doc.doc_id).indexed_at
    expect(row.locator("time")).to_have_text(f"{stamp[:10]} {stamp[11:19]} UTC")
    row.get_by_role("button").click()
    view = page.locator("#panel .document-view")
    expect(view).to_be_visible(timeout=60_000)
    expect(view.locator("h2")).to_have_text(doc.title)
    expect(view.locator("mark")).to_have_text(Q64_SENTENCE)
    expect(view.locator("mark")).to_be_in_viewport()
    assert view.locator(".doc-text").inner_text().strip() == doc.text.strip()


def test_follow_up_is_answered(page):
    from playwright.sync_api import expect

    # an example button submits its question
    page.get_by_role("button", name="What are joint targeted area inspections?").click()
    expect(page.locator("#chatlog .turn:not(.pending)")).to_have_count(1, timeout=60_000)
    expect(page.locator("#turn-0 .msg.user")).to_contain_text(
        "What are joint targeted area inspections?"
    )
    ask(page, "When did they start?", 2)
    # asked with the earlier turn as context (tests/test_followup.py), not rewritten
    expect(page.locator("#turn-1 .answer")).not_to_have_class("answer error")
    expect(page.locator("#turn-1 .searched")).to_have_count(0)
    expect(page.locator("#turn-1 .context-note")).to_have_text(
        "Searched with the earlier question “What are joint targeted area inspections?” as context."
    )
    # a question that is too long: the reason is shown and the text stays in the box
    box = page.get_by_label("Your question")
    box.fill("why " * 600)
    box.press("Enter")
    expect(page.locator("#turn-2 .answer.error")).to_contain_text("2000", timeout=30_000)
    expect(box).to_have_value("why " * 600)


@pytest.mark.parametrize(
    "page",
    [{"width": 1366, "height": 900}, {"width": 1366, "height": 900, "color_scheme": "dark"}],
    indirect=True,
    ids=["light", "dark"],
)
def test_axe_desktop_has_no_serious_violations(page, artifacts, request):
    from playwright.sync_api import expect

    ask(page, Q64, 1)
    page.locator("#turn-0 .chip").first.click()
    page.locator("#panel mark").wait_for()
    expect(page.locator("#status")).to_contain_text("Citation 1 of answer 1 shown")
    bad = axe(page)
    (artifacts / f"axe-{request.node.callspec.id}.json").write_text(json.dumps(bad, indent=1))
    assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    assert page.locator("h1").count() == 1
    assert page.locator("footer:visible").count() == 0


@pytest.mark.parametrize("page", [{"width": 390, "height": 844}], indirect=True)
def test_phone_layout(page, artifacts):
    from playwright.sync_api import expect

    ask(page, Q64, 1)
    chip = page.locator("#turn-0 .chip").first
    chip.scroll_into_view_if_needed()
    expect(chip).to_be_in_viewport()
    chip.click()
    mark = page.locator("#panel mark")
    expect(mark).to_be_in_viewport(timeout=60_000)  # scrolled to the passage below the chat
    expect(page.locator("#status")).to_contain_text("Citation 1 of answer 1 shown")
    page.get_by_role("link", name="Back to answer 1").click()
    expect(page.locator("#turn-0 .answer")).to_be_in_viewport()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    # a long passage scrolls inside the panel: a keyboard must reach it (axe-core's
    # scrollable-region-focusable, found by hand on a long passage of a 24-page report)
    page.locator("#panel .passage").evaluate("e => { e.style.maxHeight = '3em'; }")
    bad = axe(page)
    (artifacts / "axe-phone.json").write_text(json.dumps(bad, indent=1))
    assert not bad, [(v["id"], v["help"]) for v in bad]
