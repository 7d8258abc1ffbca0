"""The chat app in a real browser: Debian's Chromium, driven by Playwright, on a local server.

It asks a question, waits for the cited answer, opens a citation and checks that the quoted
sentence is highlighted in its source passage, and that the page fetched nothing from any
host but this one (no web fonts, no CDN, no analytics).
"""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlparse

import pytest

CHROMIUM = "/usr/bin/chromium"
QUESTION = "How many inspections does the 2019 report draw on?"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in LOCAL_HOSTS


@pytest.fixture
def server(shipped_qa):
    from ncpi_qa.apps import ui

    demo = ui.create_app(shipped_qa)
    port = _free_port()
    ui.serve(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_chat_in_real_browser(server, shipped_qa, artifacts):
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test needs Debian's Chromium. "
            "Install it with: make browser (apt-get install chromium)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run make install-test", pytrace=False)

    expected = shipped_qa.ask(QUESTION).to_dict()
    assert not expected["abstained"]
    by_n = {c["n"]: c for c in expected["citations"]}
    n64 = next((c["n"] for c in expected["citations"] if "all 64 inspections" in c["quote"]), None)
    assert n64 is not None, f"no citation quotes 'all 64 inspections': {expected['answer']}"

    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("websocket", lambda ws: requests.append(ws.url))
            page.goto(server, wait_until="networkidle", timeout=60_000)

            box = page.locator("#question textarea")
            expect(box).to_be_visible(timeout=30_000)
            box.fill(QUESTION)
            t0 = time.perf_counter()
            box.press("Enter")

            chat = page.locator("#chat")
            expect(chat).to_contain_text("64", timeout=60_000)
            expect(page.locator("#citations .citation")).to_have_count(
                len(expected["citations"]), timeout=30_000
            )
            answered_s = time.perf_counter() - t0

            # citation [1]: closed at first, opens on a click, its quote highlighted in context
            first = page.locator('#citations .citation[data-n="1"]')
            mark1 = first.locator("mark")
            expect(mark1).to_be_hidden()
            first.locator("summary").click()
            expect(mark1).to_be_visible()
            expect(mark1).to_have_text(by_n[1]["quote"])
            expect(first.locator("summary")).to_contain_text(f"[1] {by_n[1]['title']}")

            # the citation quoting "all 64 inspections" (normally [1] itself)
            cite = page.locator(f'#citations .citation[data-n="{n64}"]')
            if n64 != 1:
                cite.locator("summary").click()
            mark = cite.locator("mark")
            expect(mark).to_be_visible()
            expect(mark).to_contain_text("all 64 inspections")
            assert mark.evaluate("m => getComputedStyle(m).backgroundColor") != "rgba(0, 0, 0, 0)"

            # the sources panel lists the retrieved passages with their scores
            expect(page.locator("#sources .source")).to_have_count(len(expected["passages"]))
            expect(page.locator("#sources")).to_contain_text("RRF")
            expect(page.locator("#sources")).to_contain_text("cosine")

            page.wait_for_timeout(300)
            mark.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts / "chat.png"), full_page=True)

            # the Ask button with an empty box: the error is a chat message, not a crash
            page.locator("#ask").click()
            expect(chat).to_contain_text("The question is empty", timeout=30_000)
            expect(page.locator("#citations .citation")).to_have_count(0)
        finally:
            browser.close()

    assert answered_s < 30, f"answer took {answered_s:.1f}s"
    assert requests, "no request was recorded"
    outside = sorted({u for u in requests if not _is_local(u)})
    assert not outside, f"the page fetched from outside localhost: {outside}"
