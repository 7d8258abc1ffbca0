"""The rule-based answerer's rules, and abstention, without the real model."""

from __future__ import annotations

import pytest

from ncpi_qa.index.store import Store
from ncpi_qa.qa.question import analyse
from ncpi_qa.qa.retrieve import Retriever
from ncpi_qa.qa.rules import RulesAnswerer as ExtractiveAnswerer
from ncpi_qa.qa.rules_terms import (
    counted_terms,
    has_type,
    lead_fact,
    question_type,
)
from ncpi_qa.schema import ABSTAIN_PHRASE


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("How many inspections were there?", "number"),
        ("When did it start?", "date"),
        ("In what year was it published?", "date"),
        ("What does JTAI stand for?", "acronym"),
        ("How much did the programme cost?", "money"),
        ("Who was the HM Inspector that led it?", "person"),
        ("Which organisations launched the JTAI?", "name"),
        ("Did HMICFRS look at custody?", None),
    ],
)
def test_question_types(question, qtype):
    assert question_type(question) == qtype


def test_counted_terms_find_the_noun_counted():
    assert counted_terms("How many forces were rated inadequate?") == {"forc"}
    assert counted_terms("How many of the programme's own inspections were summarised?") == {
        "programm",
        "inspect",
    }


def test_count_must_be_of_the_thing_asked():
    q = "How many forces were rated inadequate?"
    assert not has_type("completed 21 reviews of forces to assess progress", "number", q)
    q2 = "How many reviews of forces were completed?"
    assert has_type("completed 21 reviews of forces to assess progress", "number", q2)
    assert lead_fact("completed 21 reviews of forces to assess progress", "number", q2) == "21"


def test_years_are_not_counts_and_lead_dates():
    s = "In 2015, HMICFRS published their first thematic report."
    assert not has_type(s, "number", "How many reports were published?")
    assert lead_fact(s, "date", "When was the first thematic report published?") == "2015"
    assert not has_type(s, "date", "When was the 2019 report published?")


def test_pointer_sentences_only_answer_where_questions():
    s = "The PCC's response can be viewed here."
    assert not has_type(s, None, "What did the PCC say in the response?")
    assert has_type(s, None, "Where can I read the PCC's response?")


def test_acronym_needs_its_expansion():
    s = "They launched the joint targeted area inspections (JTAI) of child protection."
    assert has_type(s, "acronym", "What does JTAI stand for?")
    assert not has_type(s, "acronym", "What does HMICFRS stand for?")


def test_mention_without_content_does_not_answer_what_things():
    s = "The report explores the key themes identified by the evidence."
    assert not has_type(s, None, "What key themes did the report identify?")
    assert has_type(
        "The key themes are leadership, custody and training.",
        None,
        "What key themes did the report identify?",
    )


def test_person_questions_need_a_personal_name():
    q = "Who was the HM Inspector that led the inspections?"
    assert not has_type("with Her Majesty’s Inspectorate of Probation launched it", "person", q)
    assert has_type("The inspections were led by Wendy Williams, HM Inspector.", "person", q)


@pytest.fixture
def answerer(fake_index, fake_embedder):
    store = Store.load(fake_index.store_dir)
    return ExtractiveAnswerer(store, threshold=0.3, embedder=fake_embedder), fake_embedder


def _ask(ans, emb, q, **kw):
    qvec = emb.encode([q])[0]
    passages = Retriever(ans.store, emb).search(q, qvec, len(ans.store.chunks))
    return ans.answer(analyse(q), qvec, passages, **kw).to_dict()


def test_answer_cites_exact_offsets(answerer):
    ans, emb = answerer
    q = "How many children were detained overnight in custody?"
    out = _ask(ans, emb, q)
    assert not out["abstained"]
    c = out["citations"][0]
    assert ans.store.documents[c["doc_id"]].text[c["start"] : c["end"]] == c["quote"]
    assert "12 children" in c["quote"] and c["page"] == 2
    assert out["answer"].startswith("12 — ")
    assert "[1]" in out["answer"]


def test_abstains_below_threshold_with_no_citations(answerer):
    ans, emb = answerer
    q = "How many children were detained overnight in custody?"
    out = _ask(ans, emb, q, threshold=10.0)
    assert out["abstained"] and out["citations"] == []
    assert out["answer"].startswith(ABSTAIN_PHRASE)


def test_off_topic_abstains(answerer):
    ans, emb = answerer
    q = "What is the capital of Australia?"
    out = _ask(ans, emb, q)
    assert out["abstained"]


def test_said_questions_need_someone_saying_something():
    q = "What did the government say in response to the report?"
    assert not has_type("The government need to adapt and respond to the challenges.", None, q)
    assert has_type("The government said it welcomed the report.", None, q)


def test_future_questions_need_a_future_event():
    q = "When will the next report be published?"
    assert not has_type("Since 2016, HMICFRS has published 26 reports.", "date", q)
    assert has_type("The next report will be published in 2021.", "date", q)


def test_content_nouns_mentioned_only_by_name():
    q = "What are the key findings of the 2019 report?"
    assert not has_type("This report builds on the findings of the previous report.", None, q)
    assert has_type("The findings include poor custody records and slow referrals.", None, q)


def test_acronym_lead_is_its_expansion():
    s = "They launched the joint targeted area inspections (JTAI) of child protection."
    assert lead_fact(s, "acronym", "What does JTAI stand for?") == "joint targeted area inspections"


def test_duration_frequency_and_rating_questions_need_their_kind_of_fact():
    assert question_type("How long did the inspections take?") == "duration"
    assert not has_type("completed 21 reviews of forces", "duration", "How long did it take?")
    assert has_type("The fieldwork lasted three weeks.", "duration", "How long did it take?")
    assert question_type("How often do the partners meet?") == "frequency"
    assert has_type("The partners meet quarterly.", "frequency", "How often do they meet?")
    assert question_type("What rating did HMICFRS give the force?") == "rating"
    assert not has_type("HMICFRS scrutinised custody.", "rating", "What rating was given?")
    assert has_type("The force was rated inadequate.", "rating", "What rating was given?")


def test_list_introductions_are_not_answers():
    assert not has_type("Since then, HMICFRS has:", None, "What has HMICFRS done?")


def test_which_police_force_needs_a_force_name():
    q = "Which police force did the PCC respond for?"
    assert question_type(q) == "name"
    assert not has_type("The police service and its partners must adapt.", "name", q)
    assert has_type("The response covers Lancashire Constabulary.", "name", q)
