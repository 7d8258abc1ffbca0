"""The chat app's handlers, called directly (no server, no browser).

Tests marked slow use the real model and index over corpus/; the rest use fake results.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pytest

from ncpi_qa.apps import ui

Q64 = "How many inspections does the 2019 report draw on?"


def _assistant(history) -> str:
    assert history and history[-1]["role"] == "assistant"
    return history[-1]["content"]


@pytest.mark.slow
def test_answer_cites_and_marks_the_exact_quote(shipped_qa):
    history, cites_html, sources_html = ui.respond(shipped_qa, Q64, [])
    assert [m["role"] for m in history] == ["user", "assistant"]
    answer = _assistant(history)
    assert "64" in answer
    result = shipped_qa.ask(Q64).to_dict()
    assert not result["abstained"] and result["citations"]
    for c in result["citations"]:
        doc = shipped_qa.store.documents[c["doc_id"]]
        assert doc.text[c["start"] : c["end"]] == c["quote"]
        # each citation is a <details> whose passage marks exactly the quoted sentence
        assert f'data-n="{c["n"]}"' in cites_html
        assert f"<mark>{html.escape(c['quote'])}</mark>" in cites_html
        assert f"[{c['n']}]" in cites_html and html.escape(c["title"]) in cites_html
        assert f"\\[{c['n']}\\]" in answer  # the chat message lists its numbered sources
    assert any("64" in c["quote"] for c in result["citations"])
    assert cites_html.count('class="citation"') == len(result["citations"])
    # the marked sentence sits inside its source passage, not alone
    first = result["citations"][0]
    passage = next(p for p in result["passages"] if p["chunk_id"] == first["chunk_id"])
    marked = re.search(r'data-n="1".*?<div class="passage">(.*?)</div>', cites_html, re.S)
    assert (
        marked
        and html.unescape(marked.group(1).replace("<mark>", "").replace("</mark>", ""))
        == passage["text"]
    )
    # sources panel: every retrieved passage with its RRF score and cosine similarity
    assert sources_html.count('class="source"') == len(result["passages"])
    for p in result["passages"]:
        assert f"RRF {p['score']}" in sources_html and f"cosine {p['similarity']}" in sources_html
    assert ui.CLOSEST_LABEL not in sources_html


@pytest.mark.slow
def test_history_is_kept(shipped_qa):
    history, _, _ = ui.respond(shipped_qa, Q64, [])
    history, _, _ = ui.respond(
        shipped_qa, "When did HMICFRS begin its child protection inspections?", history
    )
    assert [m["role"] for m in history] == ["user", "assistant"] * 2
    assert "2014" in _assistant(history)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["", "   ", None])
def test_empty_question_is_a_chat_message(shipped_qa, question):
    history, cites_html, sources_html = ui.respond(shipped_qa, question, [])
    msg = _assistant(history)
    assert "empty" in msg and "Traceback" not in msg
    assert all(m["role"] == "assistant" for m in history)  # no blank user bubble
    assert 'class="citation"' not in cites_html and 'class="source"' not in sources_html


@pytest.mark.slow
def test_too_long_question_is_a_chat_message(shipped_qa):
    limit = shipped_qa.settings.max_question_chars
    history, _, _ = ui.respond(shipped_qa, "why " * limit, [{"role": "user", "content": "hi"}])
    msg = _assistant(history)
    assert "limit is" in msg and str(limit) in msg and "Traceback" not in msg
    assert history[0] == {"role": "user", "content": "hi"}


def test_unexpected_failure_is_a_chat_message():
    class Broken:
        def ask(self, question):
            raise RuntimeError("boom <b>")

    history, _, _ = ui.respond(Broken(), "anything", [])
    assert "Something went wrong" in _assistant(history)
    assert "<b>" not in _assistant(history)


@pytest.mark.slow
def test_abstention_is_labelled(shipped_qa):
    question = "What is the capital of Australia?"
    result = shipped_qa.ask(question).to_dict()
    assert result["abstained"], result["answer"]
    history, cites_html, sources_html = ui.respond(shipped_qa, question, [])
    assert "not an answer" in _assistant(history)
    assert ui.CLOSEST_LABEL in sources_html and "abstained" in sources_html
    assert 'class="citation"' not in cites_html and "<mark>" not in cites_html
    assert sources_html.count('class="source closest"') == len(result["passages"]) > 0


HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _hostile_result():
    quote = "The quoted <b>bold</b> sentence."
    text = f"Intro {HOSTILE}. {quote} Outro <iframe src=//evil>."
    start = text.index(quote)
    doc = SimpleNamespace(text=text)
    cite = {
        "n": 1,
        "doc_id": "evil",
        "title": "T <script>1</script>",
        "section": "S <i>",
        "page": 3,
        "quote": quote,
        "start": start,
        "end": start + len(quote),
        "score": 0.9,
        "chunk_id": "evil [0:9]",
    }
    passage = {
        "doc_id": "evil",
        "chunk_id": "evil [0:9]",
        "title": cite["title"],
        "section": cite["section"],
        "page": 3,
        "start": 0,
        "end": len(text),
        "text": text,
        "score": 0.03,
        "similarity": 0.5,
        "bm25": 1.2,
    }
    result = {
        "question": "q",
        "answer": f"“{quote}” [1] {HOSTILE}",
        "abstained": False,
        "citations": [cite],
        "passages": [passage],
        "timings_ms": {},
    }
    return result, {"evil": doc}, quote


def test_hostile_document_text_is_escaped():
    result, docs, quote = _hostile_result()
    cites_html = ui.render_citations(result, docs)
    sources_html = ui.render_sources(result)
    answer = ui.format_answer(result)
    for out in (cites_html, sources_html, answer):
        for tag in ("<script", "<img", "<iframe", "<b>", "<i>"):
            assert tag not in out, (tag, out)
    assert "&lt;script&gt;" in cites_html and "&lt;script&gt;" in sources_html
    assert "&lt;script&gt;" in answer
    assert f"<mark>{html.escape(quote)}</mark>" in cites_html
    assert "p. 3" in cites_html and "§ S &lt;i&gt;" in cites_html


def test_hostile_chat_history_via_respond():
    result, docs, _ = _hostile_result()
    answer = SimpleNamespace(to_dict=lambda: result)
    qa = SimpleNamespace(ask=lambda q: answer, store=SimpleNamespace(documents=docs))
    history, cites_html, _ = ui.respond(qa, "<script>q</script>", [])
    assert all("<script" not in m["content"] for m in history)
    assert "<mark>" in cites_html


def test_quote_without_its_chunk_falls_back_to_a_window():
    text = "a" * 1000 + " The sentence. " + "b" * 1000
    start = text.index("The sentence.")
    cite = {
        "n": 1,
        "doc_id": "d",
        "title": "D",
        "section": "",
        "page": None,
        "quote": "The sentence.",
        "start": start,
        "end": start + 13,
        "score": 1,
        "chunk_id": "gone",
    }
    out = ui.render_citations({"citations": [cite], "passages": []}, {"d": text})
    assert "<mark>The sentence.</mark>" in out
    assert len(out) < 2 * ui.WINDOW + 800 and "p. " not in out


def test_empty_panels():
    assert "Ask a question" in ui.render_citations(None, None)
    assert "Nothing retrieved" in ui.render_sources(None)


@pytest.mark.slow
def test_create_app_builds_offline(shipped_qa):
    import gradio as gr

    demo = ui.create_app(shipped_qa)
    assert isinstance(demo, gr.Blocks)
    theme = ui.theme()
    assert theme._stylesheets == []  # no web-font stylesheet to fetch
    assert not any(isinstance(f, gr.themes.GoogleFont) for f in theme._font + theme._font_mono)
