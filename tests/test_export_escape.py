"""The Markdown export makes document text and questions inert (issue 17): rendered as HTML
(markdown-it with raw HTML allowed, the most permissive common renderer) and opened in
headless Chromium, it holds no element, attribute or link that came from the conversation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ncpi_qa.apps.chat.turns import export_markdown, md_escape

CHROMIUM = "/usr/bin/chromium"
PAYLOADS = [
    "<img src=x onerror=\"window.pwned='img'\">",
    "<script>window.pwned='script'</script>",
    "[click](javascript:window.pwned='link')",
    "![pic](javascript:window.pwned='image')",
    "<a href=\"javascript:window.pwned='a'\">x</a>",
    "<svg onload=\"window.pwned='svg'\"></svg>",
    "<iframe src=\"javascript:window.pwned='iframe'\"></iframe>",
    "<details open ontoggle=\"window.pwned='details'\">",
    "[ref]: javascript:window.pwned='ref'\n\n[ref]",
    "`code` **bold** _em_ # heading | table |",
]


def _turns() -> list[dict]:
    hostile = " ".join(PAYLOADS)
    return [
        {
            "q": f"What about {hostile}?",
            "searched": hostile,
            "answer": f"The page says {hostile}\nand more.",
            "citations": [
                {
                    "n": 1,
                    "doc_id": "evil<b>",
                    "title": f"Title {PAYLOADS[0]}",
                    "section": PAYLOADS[2],
                    "page": 1,
                    "quote": f"Quoted {hostile}\nsecond line {PAYLOADS[1]}",
                    "start": 0,
                    "end": 10,
                }
            ],
        }
    ]


def _html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True, "linkify": False}).render(markdown)
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def test_escaped_text_reads_back_as_itself():
    for p in PAYLOADS:
        html = _html(md_escape(p))
        tags = set(re.findall(r"<(/?[a-zA-Z]+)", html))
        assert tags <= {"html", "/html", "head", "/head", "meta", "body", "/body", "p", "/p"}, html


def test_export_rendered_in_chromium_has_no_injected_element_or_handler(tmp_path: Path):
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (make test installs it)")
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "export.html"
    page_file.write_text(_html(export_markdown(_turns())), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.wait_for_timeout(300)  # let any onerror/onload fire
            found = page.evaluate(
                """() => {
                const tags = [...document.body.querySelectorAll('*')].map(e => e.tagName);
                const handlers = [...document.querySelectorAll('*')].flatMap(e =>
                    [...e.attributes].filter(a => a.name.startsWith('on')).map(a => a.name));
                const links = [...document.querySelectorAll('[href],[src]')].map(e =>
                    e.getAttribute('href') || e.getAttribute('src'));
                return {tags: [...new Set(tags)], handlers, links, pwned: window.pwned || null,
                        text: document.body.innerText};
            }"""
            )
        finally:
            browser.close()
    assert found["pwned"] is None
    assert found["handlers"] == [] and found["links"] == []
    # only what the export's own Markdown makes: headings, paragraphs, bold, emphasis, quotes
    assert set(found["tags"]) <= {"H1", "H2", "P", "STRONG", "EM", "BLOCKQUOTE", "BR"}, found
    # the hostile text is still there, as text
    assert "<img src=x onerror=" in found["text"]
    assert "[click](javascript:" in found["text"]
