"""In-sample checks of the shipped seed page (corpus/): questions written while reading it.

Some of them resemble evals/dev.jsonl's; passing them says the shipped page answers as its
own text says, not that the answerer generalises (the SQuAD report part and the dev set in
`ncpi-qa eval` measure that). Expected values are the page's own words.
"""

from __future__ import annotations

import pytest

from ncpi_qa.schema import ABSTAIN_PHRASE, CLOSEST_PHRASE

from .test_e2e import check_citations

pytestmark = pytest.mark.slow


def test_inspections_count_is_64_and_cites_the_sentence(shipped_qa_quoting):
    """The sentence and the lead the answerer picks (what it quotes when it answers; whether
    it answers is the eval's to measure: at the shipped threshold this one is declined)."""
    shipped_qa = shipped_qa_quoting
    r = shipped_qa.ask("How many inspections does the 2019 report draw on?").to_dict()
    assert not r["abstained"]
    assert "64" in r["answer"]
    assert r["answer"].startswith("64")
    assert "all 64 inspections" in r["citations"][0]["quote"]
    check_citations(shipped_qa, r)
    assert set(r["timings_ms"]) == {"retrieve", "answer", "total"}
    assert r["passages"] and all(p["text"] for p in r["passages"])


@pytest.mark.parametrize(
    ("question", "expect"),
    [
        ("When did HMICFRS begin its national programme of child protection inspections?", "2014"),
        ("How many reviews of forces did HMICFRS complete?", "21"),
        (
            "Which organisations launched the joint targeted area inspections with HMICFRS?",
            "Ofsted",
        ),
        ("How many JTAI reports has HMICFRS published since 2016?", "26"),
        ("Where can I read the PCC's response?", "PCC's response can be viewed here"),
    ],
)
def test_facts_on_the_seed_page(shipped_qa_quoting, question, expect):
    shipped_qa = shipped_qa_quoting
    r = shipped_qa.ask(question).to_dict()
    assert not r["abstained"], r["answer"]
    assert expect in r["answer"]
    check_citations(shipped_qa, r)


@pytest.mark.parametrize(
    "question", ["What is the capital of Australia?", "How do I bake sourdough bread?"]
)
def test_out_of_scope_questions_get_the_none_tier(shipped_qa, question):
    r = shipped_qa.ask(question).to_dict()
    assert r["abstained"] and r["tier"] == "none", r["answer"]
    assert r["citations"] == []
    assert r["answer"].startswith(ABSTAIN_PHRASE)
    assert r["passages"]  # the closest passages are still shown


def test_a_lookalike_on_the_pages_topic_is_not_asserted(shipped_qa):
    # The page has a "PCC's response" heading but not what the PCC said: on topic, not
    # answered. Nothing may be asserted; the closest passage may be shown as such.
    r = shipped_qa.ask("What did the PCC say in their response to the report?").to_dict()
    assert r["abstained"] and r["tier"] in ("closest", "none"), r["answer"]
    if r["tier"] == "closest":
        assert r["answer"].startswith(CLOSEST_PHRASE) and len(r["citations"]) == 1
        check_citations(shipped_qa, r)
    else:
        assert r["citations"] == [] and r["answer"].startswith(ABSTAIN_PHRASE)
