"""Issue 26 item 2 in Chromium, at 1366x900 and 390x844, through the real server: a declined
answer lists its closest passages under it, reopens them beside the chat after a later
question and a reload, and exports them; a closest-tier answer reads as "Closest passage —
not a confirmed answer" with its citation clickable.

The server answers with the shipped model's own thresholds (so the off-topic question is
declined by the real pipeline, checked first with ``qa.ask``). The shipped model has no
closest tier yet (its none threshold is its answer threshold), so the closest test lowers
the live model's none threshold to 0 for its question and puts it back after.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser_app import Q64, ask, axe
from tests.browser_app import free_port as _free_port

ROOT = Path(__file__).resolve().parents[1]
OFF_TOPIC = "What is the recipe for a lemon drizzle cake?"
OFF_TOPIC_2 = "How tall is the Eiffel Tower?"
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    from ncpi_qa.apps.chat import app as ui
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    root = tmp_path_factory.mktemp("browser-tiers")
    shutil.copytree(ROOT / "corpus", root / "corpus", ignore=shutil.ignore_patterns("README*"))
    settings = Settings(corpus_dir=root / "corpus", store_dir=root / "store")
    build_index(settings, embedder=embedder, log=lambda m: None)
    demo = ui.create_app(QA(settings, embedder=embedder))
    port = _free_port()
    ui.serve(demo, "127.0.0.1", port, settings=settings, prevent_thread_lock=True, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "holder": demo.holder}
    finally:
        demo.close()


@pytest.fixture(params=list(SIZES), ids=list(SIZES))
def page(chromium, app, artifacts, request):
    context = chromium.new_context(viewport=SIZES[request.param])
    pg = context.new_page()
    pg.goto(app["url"], wait_until="load")
    pg.get_by_label("Your question").wait_for(timeout=30_000)
    pg.size = request.param
    yield pg
    context.close()


def _shot(pg, artifacts, name: str) -> None:
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(artifacts / f"tiers-{name}-{pg.size}.png"))


def test_a_declined_answer_keeps_its_closest_passages(page, app, artifacts):
    from playwright.sync_api import expect

    expected = app["holder"].qa.ask(OFF_TOPIC).to_dict()
    assert expected["tier"] == "none" and not expected["citations"], expected["answer"]
    passages = expected["passages"]
    assert len(passages) >= 2
    ask(page, OFF_TOPIC, 1)
    turn = page.locator("#turn-0")
    expect(turn.locator(".answer")).to_have_text(expected["answer"])
    listed = turn.locator(".closest-list button.near")
    expect(listed).to_have_count(len(passages))
    for k, p in enumerate(passages):
        expect(listed.nth(k).locator(".near-label")).to_have_text(f"{k + 1}. {p['label']}")
    expect(page.locator("#status")).to_contain_text(
        f"{len(passages)} closest passages are listed under it"
    )
    _shot(page, artifacts, "none")

    # a later question, then the second passage reopened beside the chat
    ask(page, Q64, 2)
    listed.nth(1).scroll_into_view_if_needed()
    listed.nth(1).click()
    view = page.locator("#panel .closest-view")
    expect(view).to_have_attribute("data-k", "1", timeout=60_000)
    expect(view.locator(".passage")).to_have_text(passages[1]["text"])
    expect(view.locator("h2")).to_have_text(
        f"Closest passage 2 of {len(passages)}: {passages[1]['label']}"
    )
    expect(view.locator(".passage")).to_be_in_viewport()
    _shot(page, artifacts, "none-reopened")
    # axe-core with the closest passages listed and one open: each button is named by the
    # words it shows (it was "Closest passage 1: …", which axe rejects as a name that does
    # not contain the visible text, found by hand on a 24-page report)
    bad = axe(page)
    assert not bad, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in bad]
    name = listed.nth(1).evaluate("b => b.textContent")
    assert name.startswith(f"2. {passages[1]['label']}")

    # the export lists them, verbatim
    with page.expect_download() as download:
        page.locator("#export").click()
    md = Path(download.value.path()).read_text(encoding="utf-8")
    part = md.split(f"## Q: {OFF_TOPIC}")[1].split("## Q:")[0]
    assert "Closest passages found (not an answer):" in part
    for p in passages:
        for line in p["text"].splitlines():
            assert (f"> {line}" if line else ">") in part.splitlines(), (line, part)
    later = app["holder"].qa.ask(Q64).to_dict()["tier"]
    assert f"; {1 + (later == 'none')} not answered by the documents" in md

    # and after a reload
    page.reload(wait_until="load")
    expect(page.locator("#chatlog .turn")).to_have_count(2, timeout=30_000)
    expect(listed).to_have_count(len(passages))
    listed.first.click()
    expect(view).to_have_attribute("data-k", "0", timeout=60_000)
    expect(view.locator(".passage")).to_have_text(passages[0]["text"])


def test_a_closest_passage_reads_as_not_a_confirmed_answer(page, app, artifacts):
    from playwright.sync_api import expect

    from ncpi_qa.schema import CLOSEST_PHRASE

    model = app["holder"].qa.answerer.model
    before = model.none_tier
    model.none_tier = 0.0  # every declined question whose passages exist: the closest tier
    try:
        expected = app["holder"].qa.ask(OFF_TOPIC_2).to_dict()
        assert expected["tier"] == "closest", expected["answer"]
        ask(page, OFF_TOPIC_2, 1)
    finally:
        model.none_tier = before
    cite = expected["citations"][0]
    turn = page.locator("#turn-0")
    label = turn.locator(".tier-label")
    expect(label).to_have_text("Closest passage — not a confirmed answer")
    answer = turn.locator(".answer")
    expect(answer).to_have_text(f"{CLOSEST_PHRASE} “{cite['quote']}” [1]")
    expect(answer).to_have_attribute("aria-describedby", "tier-0")
    expect(answer.locator("strong")).to_have_count(0)
    style = answer.evaluate("e => getComputedStyle(e).fontStyle")
    assert style == "italic"  # it looks different from an answer, not only says so
    turn.locator(".cite-ref").first.click()
    expect(page.locator("#panel mark")).to_have_text(cite["quote"], timeout=60_000)
    expect(page.locator("#panel mark")).to_be_in_viewport()
    _shot(page, artifacts, "closest")
