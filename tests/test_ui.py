"""The chat app's handlers and HTML, called directly (no browser).

Tests marked slow use the real model and an index over corpus/ (or a tiny writable corpus
for uploads); the rest use fake results. Expected citations always come from ``qa.ask``.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ncpi_qa.apps.chat import app as ui
from ncpi_qa.apps.chat import handlers as H
from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.actions import parse_action
from ncpi_qa.apps.chat.docview import render_document, render_panel_empty
from ncpi_qa.apps.chat.export import answer_text, display_labels, export_markdown
from ncpi_qa.apps.chat.indexing import render_sources
from ncpi_qa.apps.chat.turns import dump_turns, restore_turns
from ncpi_qa.apps.chat.uploads import Holder, add_document, safe_name
from ncpi_qa.schema import Turn, TurnCitation, read_turns
from tests.fakes import manifest_of

Q64 = "How many inspections does the 2019 report draw on?"
JTAI = "Who carries out joint targeted area inspections with HMICFRS?"


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# ---------------------------------------------------------------------------- real model


@pytest.mark.slow
def test_each_answer_keeps_its_own_citations(shipped_qa_quoting):
    """Two answers, each with the sentence of the page that answers it (expected text from
    corpus/ncpi-2019-commissioner-page.md), each citation opening its own quote."""
    turns, first = H.answer_turn(shipped_qa_quoting, Q64, [])
    turns, second = H.answer_turn(shipped_qa_quoting, JTAI, turns)
    assert "64" in first.answer and first.citations and second.citations
    assert "gathered from all 64 inspections" in first.citations[0].quote
    assert "launched the joint targeted area inspections (JTAI)" in second.citations[0].quote
    assert "Ofsted" in second.citations[0].quote
    docs = shipped_qa_quoting.store.documents
    for i, turn in enumerate(turns):
        for c in turn.citations:
            assert docs[c.doc_id].text[c.start : c.end] == c.quote
            panel = R.render_citation(turns, i, c.n, docs)
            # the panel marks exactly this answer's quote, inside its source passage (the
            # reader's span, when there is one, is in bold inside the mark)
            plain = re.sub(r"</?strong[^>]*>", "", panel)
            assert f'<mark id="quote-mark">{html.escape(c.quote)}</mark>' in plain
            assert html.escape(turn.question) in panel
            assert c.doc_id in panel  # behind the details toggle
            assert f'data-action="cite:{i}:{c.n}"' in R.render_chat(turns)
    # the first answer's [1] still marks its own sentence after the second answer
    panel = re.sub(r"</?strong[^>]*>", "", R.render_citation(turns, 0, 1, docs))
    marked = re.search(r"<mark[^>]*>(.*?)</mark>", panel).group(1)
    assert "64 inspections" in marked and "JTAI" not in marked


@pytest.mark.slow
def test_citation_labels_are_readable_and_distinct(shipped_qa_quoting):
    turns, turn = H.answer_turn(shipped_qa_quoting, "What are joint targeted area inspections?", [])
    labels = display_labels(turn.citations)
    assert len(set(labels.values())) == len(labels)
    chat = R.render_chat(turns)
    for c in turn.citations:
        assert c.title == "PCC web page on the 2019 HMICFRS child protection report"
        assert labels[c.n].startswith(c.label)
        assert html.escape(labels[c.n]) in chat
        assert f"[{c.start}:{c.end}]" not in chat  # no raw offsets in the chat


@pytest.mark.slow
def test_follow_up_is_asked_with_the_earlier_turn(shipped_qa_quoting):
    """The chat asks a follow-up as QA.ask(question, history=...) does (tests/test_followup.py
    checks what it finds); no rewritten question is shown."""
    first = "What are joint targeted area inspections?"
    turns, _ = H.answer_turn(shipped_qa_quoting, first, [])
    turns, turn = H.answer_turn(shipped_qa_quoting, "When did they start?", turns)
    assert turn.question == "When did they start?"
    assert turn.context.questions == [first]
    assert "Searching for:" not in R.render_chat(turns)
    # what it was searched with is said, as a sentence, in the chat and after a reload
    note = f"Searched with the earlier question “{first}” as context."
    assert html.escape(note) in R.render_chat(turns)
    assert html.escape(note) in R.render_chat(restore_turns(dump_turns(turns), 10))
    # answered from the earlier turn's subject: the page's paragraph on the JTAIs, each quote
    # the document's own text at its offsets (expected values from the document, not from a
    # second call of what is under test)
    doc = shipped_qa_quoting.store.documents["ncpi-2019-commissioner-page"]
    jtai = doc.text.index("launched the joint targeted area inspections")
    paragraph = (doc.text.rfind("\n", 0, jtai), doc.text.index("\n", jtai))
    assert turn.citations, turn.answer
    for c in turn.citations:
        assert c.doc_id == doc.doc_id and c.quote == doc.text[c.start : c.end]
        assert c.quote in turn.answer
        assert paragraph[0] < c.start < c.end <= paragraph[1], c.quote


@pytest.mark.slow
@pytest.mark.parametrize("question", ["", "   ", None])
def test_empty_question_is_an_error_turn(shipped_qa_quoting, question):
    turns, turn = H.answer_turn(shipped_qa_quoting, question, [])
    assert turn.error and "empty" in turn.answer and "Traceback" not in turn.answer
    assert '<p class="answer error">' in R.render_chat(turns)
    assert 'class="msg user"' not in R.render_chat(turns)  # no empty question bubble
    assert H.first_panel(shipped_qa_quoting, turns) == render_panel_empty()


@pytest.mark.slow
def test_too_long_question_is_an_error_turn(shipped_qa_quoting):
    limit = shipped_qa_quoting.settings.max_question_chars
    turns, turn = H.answer_turn(shipped_qa_quoting, "why " * limit, [])
    assert turn.error and str(limit) in turn.answer


@pytest.mark.slow
def test_open_document_at_the_quote_and_sources_list(shipped_qa_quoting):
    turns, turn = H.answer_turn(shipped_qa_quoting, Q64, [])
    c = turn.citations[0]
    act = parse_action(f"doc:{c.doc_id}:0:{c.n}")
    panel, _, said = H.do_action(shipped_qa_quoting, act, turns)
    doc = shipped_qa_quoting.store.documents[c.doc_id]
    assert f'<mark id="quote-mark">{html.escape(c.quote)}</mark>' in panel
    assert _plain(panel).endswith(doc.text) or doc.text in _plain(panel)
    assert doc.title in said
    listing = render_sources(shipped_qa_quoting.store.manifest, shipped_qa_quoting.store.documents)
    for d in shipped_qa_quoting.store.manifest.documents:
        assert f'data-action="doc:{d.doc_id}"' in listing
        assert html.escape(d.title) in listing
        assert f'<td data-label="Chunks">{d.n_chunks}</td>' in listing
        stamp = d.indexed_at  # each document's own time, e.g. 2026-11-30T03:06:59Z
        assert f'<time datetime="{stamp}">{stamp[:10]} {stamp[11:19]} UTC</time>' in listing


@pytest.mark.slow
def test_feedback_is_appended_as_jsonl(shipped_qa_quoting, tmp_path):
    settings = shipped_qa_quoting.settings.model_copy(
        update={"feedback_path": tmp_path / "fb.jsonl"}
    )
    qa = SimpleNamespace(
        settings=settings, store=shipped_qa_quoting.store, ask=shipped_qa_quoting.ask
    )
    turns, _ = H.answer_turn(qa, Q64, [])
    panel, turns, said = H.do_action(qa, parse_action("fb:0:down"), turns)
    assert panel is None and turns[0].feedback == "down" and "saved" in said
    rows = [json.loads(x) for x in (tmp_path / "fb.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["rating"] == "down" and rows[0]["question"] == Q64
    assert rows[0]["citations"][0]["quote"] == turns[0].citations[0].quote
    assert 'aria-pressed="true">Not helpful' in R.render_chat(turns)


@pytest.mark.slow
def test_create_app_builds_offline_without_touching_env_on_import(shipped_qa_quoting):
    import gradio as gr

    demo = ui.create_app(shipped_qa_quoting)
    assert isinstance(demo, gr.Blocks)
    theme = ui_theme()
    assert theme._stylesheets == []
    assert not any(isinstance(f, gr.themes.GoogleFont) for f in theme._font + theme._font_mono)
    code = (
        "import os; before = dict(os.environ); "
        "import ncpi_qa.apps.chat.app, ncpi_qa.apps.chat.render; "
        "assert dict(os.environ) == before, set(os.environ) ^ set(before)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADIO_", "HF_HUB"))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def ui_theme():
    from ncpi_qa.apps.chat.assets import theme

    return theme()


# ---------------------------------------------------------------------------- uploads


@pytest.fixture(scope="module")
def upload_settings(tmp_path_factory, embedder):
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    root = tmp_path_factory.mktemp("uploads")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text("Alpha review\n\nThe alpha review took 6 weeks in 2018.\n")
    settings = Settings(corpus_dir=corpus, store_dir=root / "store")
    build_index(settings, embedder=embedder, log=lambda m: None)
    return settings


@pytest.mark.slow
def test_upload_is_indexed_and_answerable_at_once(upload_settings, embedder, tmp_path):
    from ncpi_qa.qa.pipeline import QA

    holder = Holder(QA(upload_settings, embedder=embedder))
    old = holder.qa
    src = tmp_path / "upload-dir" / "Gamma Notes.txt"
    src.parent.mkdir()
    fact = "The gamma review of custody took 11 weeks to complete."
    src.write_text(f"Gamma review\n\n{fact}\n")
    steps = []
    message = add_document(holder, str(src), src.name, on_progress=steps.append)
    assert message.startswith("Added Gamma-Notes.txt"), message
    assert (upload_settings.corpus_dir / "Gamma-Notes.txt").exists()
    assert holder.qa is not old and holder.qa.embedder is old.embedder
    assert holder.indexing is None and holder.added[0] == "Gamma-Notes.txt"
    assert steps[0].docs_total == 2 and steps[-1].stage == "writing"  # alpha.txt and this one
    answer = holder.qa.ask("How long did the gamma review of custody take?").to_dict()
    # answerable at once: the upload's sentence is found and shown first (asserted or as the
    # closest passage: whether it is asserted is the calibrated threshold's, which the evals
    # measure)
    assert answer["tier"] in ("answer", "closest"), answer["answer"]
    assert answer["citations"][0]["quote"] == fact
    assert "gamma" in answer["citations"][0]["doc_id"].lower()
    # the earlier document is still there
    assert len(holder.qa.store.documents) == 2
    # the same file again is not duplicated
    assert "already" in add_document(holder, str(src), src.name)


@pytest.mark.slow
def test_bad_upload_gives_the_loaders_reason_and_changes_nothing(
    upload_settings, embedder, tmp_path
):
    from ncpi_qa.errors import LoadError
    from ncpi_qa.ingest.documents import load_document
    from ncpi_qa.qa.pipeline import QA

    holder = Holder(QA(upload_settings, embedder=embedder))
    before = sorted(p.name for p in upload_settings.corpus_dir.iterdir())
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(LoadError) as why:
        load_document(bad)
    message = add_document(holder, str(bad), bad.name)
    assert message.startswith(f"Skipped broken.pdf: {why.value}"), message  # as the CLI says
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x00")
    assert "unsupported file type '.exe'" in add_document(holder, str(exe), exe.name)
    big = tmp_path / "big.txt"
    big.write_text("x" * 2048)
    holder.qa.settings = upload_settings.model_copy(update={"max_file_mb": 0.001})
    assert "0.001 MB" in add_document(holder, str(big), big.name)  # the one size limit
    assert sorted(p.name for p in upload_settings.corpus_dir.iterdir()) == before


def test_safe_name():
    assert safe_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_name("C:\\x\\My Report (v2).PDF") == "My-Report-v2.pdf"
    assert safe_name("....md") == "upload.md"


# ---------------------------------------------------------------------------- pure rendering

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def _hostile():
    quote = "The quoted <b>bold</b> sentence."
    text = f"Intro {HOSTILE}. {quote} Outro <iframe src=//evil>."
    start = text.index(quote)
    doc = SimpleNamespace(
        doc_id="evil", title="T <script>1</script>", text=text, kind="html", source="e<i>.html",
        pages=[(0, len(text), 3)],
    )  # fmt: skip
    cite = {
        "n": 1, "doc_id": "evil", "title": doc.title, "section": "S <i>", "page": 3,
        "quote": quote, "start": start, "end": start + len(quote), "score": 0.9,
        "chunk_id": "evil-0",
    }  # fmt: skip
    passage = {
        "chunk_id": "evil-0", "doc_id": "evil", "title": doc.title, "section": "S <i>",
        "page": 3, "start": 0, "end": len(text), "score": 0.03, "similarity": 0.5, "bm25": 1.2,
    }  # fmt: skip
    result = {
        "answer": f"“{quote}” [1] {HOSTILE}", "abstained": False,
        "citations": [cite], "passages": [passage],
    }  # fmt: skip
    return Turn.model_validate({**result, "question": "<script>q</script>"}), {"evil": doc}, quote


def test_hostile_text_is_escaped_everywhere():
    turn, docs, quote = _hostile()
    manifest = manifest_of({"doc_id": "evil", "title": docs["evil"].title, "kind": "html"},
                           skipped=[("x<b>.pdf", "bad <i>")])  # fmt: skip
    outs = [
        R.render_chat([turn]),
        R.render_citation([turn], 0, 1, docs),
        render_document(docs["evil"], turn.citations[0].start, turn.citations[0].end),
        render_sources(manifest, docs),
        R.render_closest([turn], 0, 0, docs),
    ]
    for out in outs:
        for tag in ("<script", "<img", "<iframe", "<b>", "<i>"):
            assert tag not in out, (tag, out)
        assert "&lt;" in out
    assert f'<mark id="quote-mark">{html.escape(quote)}</mark>' in outs[1]
    assert "p. 3" in outs[1] and "quote on p. 3" in outs[2]


def test_answer_markers_become_buttons_only_for_real_citations():
    turn, _, _ = _hostile()
    turn = turn.model_copy(update={"answer": "A [1] and [7]."})
    chat = R.render_chat([turn])
    assert chat.count('class="cite-ref"') == 1 and "[7]" in _plain(chat)


def test_copy_and_export_are_clean_text_with_quotes_and_sources():
    turn, _, quote = _hostile()
    text = answer_text(turn)
    assert "\\[" not in text and "\\." not in text
    assert f"[1] T <script>1</script> · S <i> · p. 3 — “{quote}”" in text
    second = {**turn.model_dump(), "question": "second", "context": {"note": "Searched with"}}
    md = export_markdown([turn, Turn.model_validate(second)])
    # the quote as the document prints it, in a fenced block inside the blockquote
    assert md.startswith("# NCPI QA conversation")
    assert md.count(f"> ```text\n> {quote}\n> ```") == 2
    assert "*Searched with*" in md and "characters" in md


def test_labels_are_told_apart_when_they_would_repeat():
    cites = [
        {"n": 1, "label": "Page · Intro", "quote": "One two three four five six seven."},
        {"n": 2, "label": "Page · Intro", "quote": "Other words here."},
        {"n": 3, "label": "Page · Later", "quote": "x"},
    ]
    labels = display_labels([TurnCitation.model_validate(c) for c in cites])
    assert len(set(labels.values())) == 3
    assert labels[1] == "Page · Intro · “One two three four five six…”"
    assert labels[3] == "Page · Later"


def test_a_changed_document_does_not_mark_the_wrong_text():
    turn, docs, quote = _hostile()
    docs["evil"].text = "Completely different text now."
    panel = R.render_citation([turn], 0, 1, docs)
    assert "has changed" in panel and html.escape(quote) in panel


def test_unexpected_failure_is_an_error_turn():
    class Broken:
        settings = SimpleNamespace(max_history_turns=5)
        store = SimpleNamespace(is_stale=lambda: False)

        def ask(self, question, history=None):
            raise RuntimeError("boom <b>")

    turns, turn = H.answer_turn(Broken(), "anything", [])
    assert turn.error and "something went wrong (RuntimeError)" in turn.answer
    assert "<b>" not in R.render_chat(turns)


def test_bad_actions_change_nothing():
    qa = SimpleNamespace(store=SimpleNamespace(documents={}, is_stale=lambda: False), settings=None)
    for action in ["", "cite:x:1", "cite:9:1", "fb:0:sideways", "doc", "zzz:1"]:
        panel, turns, _ = H.do_action(qa, parse_action(action), [])
        assert turns == []
        assert panel is None or "no longer" in panel or "not in the index" in panel


# ---------------------------------------------------------------------------- serving safely


def test_the_readers_span_is_marked_inside_the_quote_and_survives_a_reload():
    text = "Intro. It draws on all 64 inspections. Outro."
    start = text.index("It draws")
    end = text.index(" Outro")
    a = text.index("64")
    cite = {"n": 1, "doc_id": "d", "title": "T", "section": "S", "page": None,
            "quote": text[start:end], "start": start, "end": end, "score": 1.0,
            "chunk_id": "d#0", "span": [a, a + 2]}  # fmt: skip
    result = {"answer": "64 — “…” [1]", "citations": [cite], "passages": [],
              "best_score": 0.8123, "threshold": 0.38}  # fmt: skip
    turn = Turn.model_validate({**result, "question": "How many?"})
    html = R.render_citation([turn], 0, 1, {"d": text})
    assert "Confidence 0.81 (the answerer answers at 0.38 or more" in html
    assert '<mark id="quote-mark">It draws on all <strong class="answer-span">64</strong>' in html
    restored = restore_turns(dump_turns([turn]), 10)
    assert restored[0].citations[0].span == [a, a + 2]
    assert restored[0].best_score == 0.8123
    saved = turn.model_dump()
    bad = {**saved, "citations": [{**saved["citations"][0], "span": [0, 3]}]}  # outside the quote
    assert read_turns([bad], 10)[0].citations[0].span is None
    assert "answer-span" not in R.render_citation(read_turns([bad], 10), 0, 1, {"d": text})
