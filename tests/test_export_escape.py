"""The Markdown export makes document text and questions inert (issue 17): rendered as HTML
(markdown-it with raw HTML allowed, the most permissive common renderer) and opened in
headless Chromium, it holds no element, attribute or link that came from the conversation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ncpi_qa.apps.chat.export import export_markdown, md_escape
from ncpi_qa.schema import Turn

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


def _turns() -> list[Turn]:
    hostile = " ".join(PAYLOADS)
    return [
        Turn.model_validate(
            {
                "question": f"What about {hostile}?",
                "context": {"note": hostile},
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
        )
    ]


def _html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True, "linkify": False}).render(markdown)
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def _text(html: str) -> str:
    """What a reader of the rendered Markdown sees: the text, entities decoded."""
    import html as H

    return H.unescape(re.sub(r"<[^>]+>", "", html))


def test_escaped_text_reads_back_as_itself():
    for p in PAYLOADS:
        html = _html(md_escape(p))
        tags = set(re.findall(r"<(/?[a-zA-Z]+)", html))
        assert tags <= {"html", "/html", "head", "/head", "meta", "body", "/body", "p", "/p"}, html
        one_line = " ".join(p.split("\n\n"))
        assert " ".join(_text(html).split()) == " ".join(one_line.split()), html


# issue 26 item 8: words a report prints that the export used to write as &quot; \( \`
PRINTED = [
    '"Wise up or die."',
    "the years (936–1013) of the reign",
    "what they called `simples’ at the time",
    "a *starred* note & <angle> brackets, 3 # 4 | 5 ~ 6 _under_ [1]",
    "``` a fence ``` inside the quote",
]


def test_quotes_are_exported_as_printed_raw_and_rendered():
    for words in PRINTED:
        turn = {"question": "Q?", "answer": f"“{words}” [1]",
                "citations": [{"n": 1, "doc_id": "d", "title": "T", "section": "", "page": 2,
                               "quote": words, "start": 0, "end": len(words)}]}  # fmt: skip
        md = export_markdown([Turn.model_validate(turn)])
        raw = md.splitlines()
        assert f"> {words}" in raw, md  # pasted into an email: the words, unchanged
        assert f"“{words}” [1]" in raw, md  # the answer too
        assert "&quot;" not in md and "\\(" not in md and "\\`" not in md
        rendered = _text(_html(md))
        assert f"{words}\n" in rendered and f"“{words}” [1]" in rendered, rendered


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
    # and the fenced blocks that hold answers and quotes verbatim
    allowed = {"H1", "H2", "P", "STRONG", "EM", "BLOCKQUOTE", "BR", "PRE", "CODE"}
    assert set(found["tags"]) <= allowed, found
    # the hostile text is still there, as text
    assert "<img src=x onerror=" in found["text"]
    assert "[click](javascript:" in found["text"]
