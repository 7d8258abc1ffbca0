"""Follow-up questions: asked with the previous turn as context (qa/followup.py), never
rewritten by putting a word in place of the pronoun.

The unit tests need no model; the slow ones go through the real index over the shipped page,
with the expected sentences taken from the page itself."""

from __future__ import annotations

import json

import pytest

from ncpi_qa.qa.followup import context_for, earlier, leans_on_history
from ncpi_qa.schema import Answer, Citation, Turn

JTAI = "What are joint targeted area inspections?"
# the page's sentences (corpus/ncpi-2019-commissioner-page.md)
FOLLOW = "How many reports have been published about them?"
PUBLISHED = (
    "Since 2016, HMICFRS has published 26 reports about our findings from these inspections."
)
BEGAN = "In 2014, HMICFRS began a national programme of child protection inspections."


@pytest.mark.parametrize(
    "question",
    [
        "When did they start?",
        "What is their purpose?",
        "Who printed a paraphrase based on his manuscript?",
        "When did she arrive?",
        "What is that parish called today?",
        "And by 1900?",
        "What about the PCC?",
        "Under what name?",
        "Of what?",
        "Why?",
    ],
)
def test_questions_that_lean_on_history(question):
    assert leans_on_history(question)


@pytest.mark.parametrize(
    "question",
    [
        "How many inspections does the 2019 report draw on?",
        "When was Harvard formed?",
        "Who is the PCC?",
        "Which satellite measured the dust blown from the Sahara to the Amazon?",
        "What did the PCC's response say?",
        "",
        "   ",
    ],
)
def test_questions_that_stand_alone(question):
    assert not leans_on_history(question)
    assert context_for(question, [Turn(question=JTAI)]) is None


def test_nothing_to_lean_on():
    assert context_for("When did they start?", []) is None
    assert context_for("When did they start?", [Turn(question=""), Turn(question="  ")]) is None
    assert context_for("When did they start?", [Turn.failed(JTAI, "Sorry: ...")]) is None


def _turn(question, quote, span=None, start=100, abstained=False, **extra) -> Turn:
    cite = {
        "n": 1,
        "doc_id": "d",
        "chunk_id": "d#3",
        "quote": quote,
        "start": start,
        "end": start + len(quote),
        "span": span,
    }
    return Turn.model_validate(
        {
            "question": question,
            "answer": quote,
            "abstained": abstained,
            "citations": [] if abstained else [cite],
            **extra,
        }
    )


def test_what_a_follow_up_leans_on_from_a_turn_or_an_answer():
    quote = "The atmospheric engine was invented by Thomas Newcomen around 1712."
    span = (100 + quote.index("Thomas"), 100 + quote.index(" around"))
    t = earlier(_turn("Who invented the atmospheric engine?", quote, list(span)))
    assert t.question == "Who invented the atmospheric engine?"
    assert t.answer == "Thomas Newcomen" and t.quotes == (quote,)
    assert t.doc_ids == ("d",) and t.chunk_ids == ("d#3",)
    cite = Citation(1, "d", "T", "S", None, quote, 100, 100 + len(quote), 1.0, "d#3", span)
    answer = Answer("Who invented the atmospheric engine?", quote, False, citations=[cite])
    assert earlier(answer) == t
    saved = {"q": t.question, "answer": quote, "citations": [cite.to_dict()]}  # an older tab's
    assert earlier(Turn.model_validate(saved)) == t
    assert earlier(Turn(question="  Who invented it?  ")).question == "Who invented it?"
    declined = earlier(_turn("Who?", quote, list(span), abstained=True))
    assert declined.answer == "" and declined.quotes == () and declined.doc_ids == ()
    assert earlier(Turn(question=" ")) is None and earlier(Turn.failed("Who?", "x")) is None


def test_context_is_what_the_previous_turn_was_about():
    quote = "The atmospheric engine was invented by Thomas Newcomen around 1712."
    span = [100 + quote.index("Thomas"), 100 + quote.index(" around")]
    history = [
        Turn(question="Who is the PCC?"),
        _turn("Who invented the atmospheric engine?", quote, span),
    ]
    ctx = context_for("When did he invent it?", history)
    assert ctx.questions == ("Who invented the atmospheric engine?",)  # the newest turn only
    # its subject and its answer, which is what "he" stands for; not the new question's words
    assert set(ctx.subject_words) == {"atmospheric", "engine", "thomas", "newcomen"}
    assert "invent" not in ctx.subject
    assert "Thomas Newcomen" in ctx.text and "atmospheric" in ctx.words
    assert ctx.doc_ids == ("d",) and ctx.chunk_ids == ("d#3",)
    assert "“Who invented the atmospheric engine?”" in ctx.describe()


def test_words_that_only_ask_are_not_the_subject():
    """ "When did HMICFRS begin ...?" is about HMICFRS and the inspections, not "begin": the
    cited sentence says "began", so "begin" is not taken as the subject."""
    ctx = context_for(
        "How many reports has it published?",
        [_turn("When did HMICFRS begin its child protection inspections?", BEGAN)],
    )
    assert {"hmicfrs", "child", "protection", "inspections"} <= set(ctx.subject_words)
    assert "begin" not in ctx.subject_words


def test_a_chain_of_follow_ups_keeps_the_first_subject():
    first = _turn(JTAI, "They launched the joint targeted area inspections (JTAI).")
    second = _turn(
        "When did they start?",
        "Since 2016, they published 26 reports.",
        context={"questions": [JTAI]},
    )
    ctx = context_for("Who runs them?", [first, second])
    assert ctx.questions == ("When did they start?", JTAI)
    assert {"joint", "targeted", "area"} <= set(ctx.subject_words)


# --- through the real index over the shipped page -------------------------------------------


def _cites(answer, sentence) -> bool:
    return any(c.quote == sentence for c in answer.citations)


@pytest.mark.slow
def test_follow_up_after_its_question_finds_the_passage_the_bare_one_misses(
    shipped_qa_quoting,
):
    qa = shipped_qa_quoting
    first = qa.ask(JTAI)
    assert not first.abstained
    follow = qa.ask(FOLLOW, history=[first])
    assert _cites(follow, PUBLISHED), follow.text
    assert follow.question == FOLLOW
    assert follow.context.questions == [JTAI]
    assert follow.to_dict()["context"]["questions"] == [JTAI]
    bare = qa.ask(FOLLOW)
    assert not _cites(bare, PUBLISHED) and bare.context is None


@pytest.mark.slow
def test_history_does_not_change_a_standalone_question(shipped_qa_quoting):
    qa = shipped_qa_quoting
    q = "When did HMICFRS begin a national programme of child protection inspections?"
    alone = qa.ask(q)
    after = qa.ask(q, history=[qa.ask(JTAI), Turn(question=FOLLOW)])
    assert after.context is None
    assert after.text == alone.text and _cites(after, BEGAN)
    assert [c.to_dict() for c in after.citations] == [c.to_dict() for c in alone.citations]
    assert [p.chunk_id for p in after.passages] == [p.chunk_id for p in alone.passages]


@pytest.mark.slow
def test_chat_asks_the_follow_up_with_the_earlier_turns(shipped_qa_quoting):
    from ncpi_qa.apps.chat import handlers as ui

    turns, _ = ui.answer_turn(shipped_qa_quoting, JTAI, [])
    turns, turn = ui.answer_turn(shipped_qa_quoting, FOLLOW, turns)
    assert turn.question == FOLLOW
    assert turn.context.questions == [JTAI]
    assert any(c.quote == PUBLISHED for c in turn.citations)


@pytest.mark.slow
def test_cli_ask_after_and_session(shipped_settings, monkeypatch, capsys, tmp_path):
    from ncpi_qa.apps import cli

    monkeypatch.setenv("NCPI_QA_ABSTAIN_THRESHOLD", "0")
    store = str(shipped_settings.store_dir)
    assert cli.main(["ask", "--store", store, "--after", JTAI, FOLLOW, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == FOLLOW and "resolved_question" not in out
    assert out["context"]["questions"] == [JTAI]
    assert any(c["quote"] == PUBLISHED for c in out["citations"])

    assert cli.main(["ask", "--store", store, FOLLOW]) == 0
    text = capsys.readouterr().out
    assert "Searched with" not in text and PUBLISHED not in text

    session = tmp_path / "session.json"
    session.write_text(json.dumps([{"question": JTAI}]), encoding="utf-8")
    assert cli.main(["ask", "--store", store, "--session", str(session), FOLLOW]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Searched with the earlier question “{JTAI}” as context.")
    assert PUBLISHED in text


def test_cli_refuses_a_bad_session_file(tmp_path, capsys):
    from ncpi_qa.apps import cli

    bad = tmp_path / "s.json"
    bad.write_text('{"turns": 3}', encoding="utf-8")
    assert cli.main(["ask", "--session", str(bad), FOLLOW]) == 2
    assert "--session" in capsys.readouterr().err
