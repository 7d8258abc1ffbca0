"""Follow-up questions resolved against the conversation (rules only, no model)."""

from __future__ import annotations

import pytest

from ncpi_qa.qa.followup import main_phrase, resolve

JTAI = "What are joint targeted area inspections?"
BEGIN = "When did HMICFRS begin its child protection inspections?"


def test_pronoun_takes_the_previous_questions_subject():
    assert resolve("When did they start?", [JTAI]) == (
        "When did joint targeted area inspections start?"
    )


def test_elliptical_question_reuses_the_previous_question():
    assert resolve("and the PCC?", [BEGIN]) == (
        "When did the PCC begin its child protection inspections?"
    )
    assert resolve("What about the PCC?", [BEGIN]) == (
        "When did the PCC begin its child protection inspections?"
    )


def test_possessive_becomes_of_phrase():
    assert resolve("What is their purpose?", [JTAI]) == (
        "What is the purpose of joint targeted area inspections?"
    )


def test_latest_question_wins_and_chains_work():
    first = resolve("When did they start?", ["Who is the PCC?", JTAI])
    assert first == "When did joint targeted area inspections start?"
    # the searched form goes into history, so the next follow-up still finds the subject
    assert "joint targeted area inspections" in resolve("Who runs them?", [JTAI, first])


@pytest.mark.parametrize(
    "question",
    [
        "How many inspections does the 2019 report draw on?",
        "Who carries out joint targeted area inspections with HMICFRS?",
        "What did the PCC's response say?",
        "What does this report say about custody?",
        "Are these inspections published?",
        "",
        "   ",
    ],
)
def test_self_contained_questions_are_left_alone(question):
    assert resolve(question, [JTAI]) is None


def test_nothing_to_resolve_against():
    assert resolve("When did they start?", []) is None
    assert resolve("When did they start?", ["", "  "]) is None
    assert resolve("and the PCC?", []) is None


def test_main_phrase():
    assert main_phrase(JTAI) == "joint targeted area inspections"
    assert main_phrase(BEGIN) == "HMICFRS"
    assert main_phrase("How many reviews were completed?") == "reviews"
    assert main_phrase("?") is None


def test_demonstrative_pronoun_is_resolved_but_determiner_is_not():
    assert resolve("When did this start?", [JTAI]) == (
        "When did joint targeted area inspections start?"
    )
    assert resolve("Why was this introduced?", [JTAI]) == (
        "Why was joint targeted area inspections introduced?"
    )
    assert resolve("Who published that report?", [JTAI]) is None
