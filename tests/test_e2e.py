"""End to end on the real model (all-MiniLM-L6-v2, offline) and a real FAISS index on disk."""

from __future__ import annotations

import json

import pytest

from ncpi_qa.errors import EmptyQuestionError, QuestionTooLongError, UnknownDocumentError

from .conftest import FIXTURES, SHIPPED_CORPUS, run_cli

pytestmark = pytest.mark.slow


def check_citations(qa, result):
    for c in result["citations"]:
        doc = qa.store.documents[c["doc_id"]]
        assert doc.text[c["start"] : c["end"]] == c["quote"]
        assert c["title"] == doc.title
        assert f"[{c['n']}]" in result["answer"]


def test_bad_questions_raise_user_errors(shipped_qa):
    with pytest.raises(EmptyQuestionError):
        shipped_qa.ask("   ")
    with pytest.raises(QuestionTooLongError, match="2000"):
        shipped_qa.ask("x" * 2001)


def test_pdf_citation_carries_its_page(fixture_qa_quoting):
    r = fixture_qa_quoting.ask(
        "How many recommendations did inspectors make to Riverside Constabulary?"
    ).to_dict()
    assert not r["abstained"]
    c = r["citations"][0]
    assert c["doc_id"] == "riverside-inspection" and c["page"] == 3
    assert "7 recommendations" in c["quote"]
    check_citations(fixture_qa_quoting, r)
    r = fixture_qa_quoting.ask(
        "How much money does the Lakeside response commit to the hub?"
    ).to_dict()
    assert r["citations"][0]["doc_id"] == "lakeside-response"
    assert r["citations"][0]["page"] is None
    assert "£250,000" in r["answer"]


def test_cli_index_ask_doc_roundtrip(tmp_path):
    """The installed CLI over a fresh store: index twice, ask --json, check offsets with doc."""
    env = {"NCPI_QA_CORPUS_DIR": str(SHIPPED_CORPUS), "NCPI_QA_STORE_DIR": str(tmp_path / "s")}
    first = run_cli("index", env=env, text=True)
    assert first.returncode == 0, first.stderr
    assert "Indexed 1 document," in first.stdout
    second = run_cli("index", env=env, text=True)
    assert second.returncode == 0 and "nothing to embed" in second.stdout
    assert "Embedding" not in second.stderr

    ask = run_cli(
        "ask",
        "How many further child protection inspections of individual forces?",
        "--json",
        env=env,
        text=True,
    )
    assert ask.returncode == 0, ask.stderr
    result = json.loads(ask.stdout)
    assert {"question", "answer", "abstained", "citations", "passages", "timings_ms"} <= set(result)
    assert "17" in result["answer"]
    doc = json.loads(
        run_cli("doc", result["citations"][0]["doc_id"], "--json", env=env, text=True).stdout
    )
    assert set(doc) >= {"doc_id", "title", "text"}
    for c in result["citations"]:
        assert doc["text"][c["start"] : c["end"]] == c["quote"]

    docs = run_cli("docs", env=env, text=True)
    assert "ncpi-2019-commissioner-page" in docs.stdout and "chunks" in docs.stdout


@pytest.mark.parametrize(
    ("args", "message", "error"),
    [
        (("ask", ""), "question is empty", EmptyQuestionError),
        (("ask", "x" * 2001), "limit is 2000", QuestionTooLongError),
        (("doc", "no-such-doc"), "No document with id 'no-such-doc'", UnknownDocumentError),
    ],
)
def test_cli_user_errors_are_one_message_without_traceback(tmp_path, args, message, error):
    env = {"NCPI_QA_CORPUS_DIR": str(FIXTURES / "corpus"), "NCPI_QA_STORE_DIR": str(tmp_path / "s")}
    if args[0] == "doc":
        assert run_cli("index", env=env, text=True).returncode == 0
    r = run_cli(*args, env=env, text=True)
    assert r.returncode == error.exit_code == 1
    assert message in r.stderr and "Traceback" not in r.stderr


def test_cli_without_index_says_to_build_it(tmp_path):
    r = run_cli("ask", "anything?", env={"NCPI_QA_STORE_DIR": str(tmp_path / "none")}, text=True)
    assert r.returncode == 1
    assert "ncpi-qa index" in r.stderr and "Traceback" not in r.stderr
