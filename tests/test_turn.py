"""One typed turn (schema.Turn, issue 28 item 1): what the chat keeps, what a browser tab
saves and sends back, what ``ask --session`` reads and what ``QA.ask`` takes as history."""

from __future__ import annotations

import json

from ncpi_qa.apps.chat.turns import dump_turns, restore_turns
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.qa.followup import earlier
from ncpi_qa.schema import MAX_ITEMS, MAX_TEXT, Answer, Citation, Context, Passage, Turn, read_turns

TEXT = "Intro. The engine was invented by Thomas Newcomen around 1712. Outro."
QUOTE = "The engine was invented by Thomas Newcomen around 1712."
START = TEXT.index(QUOTE)
SPAN = (TEXT.index("Thomas"), TEXT.index(" around"))


def _answer(question: str, context: Context | None = None) -> Answer:
    chunk = Chunk("d#0", "d", "Engines", "History", 3, 0, len(TEXT), TEXT)
    cite = Citation(1, "d", "Engines", "History", 3, QUOTE, START, START + len(QUOTE), 0.9,
                    "d#0", SPAN)  # fmt: skip
    return Answer(question, f"Thomas Newcomen — “{QUOTE}” [1]", False, citations=[cite],
                  passages=[Passage(0, chunk, 0.5, dense=0.7, bm25=2.0)], best_score=0.8,
                  threshold=0.4, relevance=0.9, none_threshold=0.2, context=context)  # fmt: skip


def _conversation() -> list[Turn]:
    first = _answer("Who invented the engine?")
    note = "Searched with the earlier question “…” as context."
    context = Context(questions=[first.question], answers=["Thomas Newcomen"], doc_ids=["d"],
                      chunk_ids=["d#0"], note=note)  # fmt: skip
    follow = _answer("When did he invent it?", context)
    failed = Turn.failed("Why?", "Sorry: the question is empty.")
    return [Turn.from_answer(first), Turn.from_answer(follow), failed]


def test_a_restored_conversation_round_trips_into_the_typed_turn_and_back():
    turns = _conversation()
    saved = dump_turns(turns)  # what the tab keeps in localStorage and sends back on load
    sent_back = json.loads(json.dumps(json.loads(saved)))  # as the browser returns it
    restored = restore_turns(sent_back, 10)
    assert restored == turns and all(isinstance(t, Turn) for t in restored)
    assert restore_turns(saved, 10) == turns  # the JSON text as well as the parsed list
    assert dump_turns(restored) == saved
    first, follow, failed = restored
    cite = first.citations[0]
    assert (cite.quote, cite.start, cite.span, cite.label) == (
        QUOTE, START, list(SPAN), "Engines · History · p. 3")  # fmt: skip
    assert cite.span_text == "Thomas Newcomen" and first.best_score == 0.8
    assert first.passages[0].text == TEXT and first.passages[0].similarity == 0.7
    assert follow.context.questions == ["Who invented the engine?"]
    assert follow.context.note.startswith("Searched with")
    assert failed.error and failed.citations == [] and failed.context is None
    # what a follow-up leans on is the same from the restored turn as from the live Answer
    assert earlier(first) == earlier(_answer("Who invented the engine?"))


def test_an_ask_json_answer_reads_as_the_same_turn():
    answer = _answer("Who invented the engine?")
    as_json = json.loads(json.dumps(answer.to_dict()))  # `ask --json`, a --session file's item
    assert Turn.model_validate(as_json) == Turn.from_answer(answer)


def test_a_tab_saved_before_the_typed_turn_still_reads():
    old = {"q": "When?", "searched": None, "answer": "1712 [1]", "abstained": False,
           "confidence": 0.7, "threshold": 0.4, "context_note": "Searched with “Who?”.",
           "citations": [{"n": 1, "doc_id": "d", "quote": QUOTE, "start": START,
                          "end": START + len(QUOTE), "label": "Engines"}]}  # fmt: skip
    turn = restore_turns([old], 5)[0]
    assert (turn.question, turn.best_score, turn.tier) == ("When?", 0.7, "answer")
    assert turn.context == Context(note="Searched with “Who?”.")
    assert turn.citations[0].label == "Engines"


def test_a_context_of_the_wrong_shape_is_read_field_by_field():
    context = {"questions": ["A?", 3, None], "note": ["x"], "extra": 1}
    turn = Turn.model_validate({"question": "Q?", "context": context})
    assert turn.context == Context(questions=["A?"])
    assert Turn.model_validate({"question": "Q?", "context": "a string"}).context is None


def test_restored_history_is_checked_and_bounded():
    turn = _conversation()[0]
    junk = [
        "text",
        {"q": 5},
        {"q": "x" * 100_000, "citations": [{"n": "1"}, {"n": 2, "start": "0"}] * 50},
        {**turn.model_dump(), "feedback": "<b>", "abstained": "yes"},
    ]
    turns = read_turns(junk * 30, max_turns=3)
    assert len(turns) == 2  # only the last 3 entries are looked at, 2 of them are turns
    assert len(turns[0].question) == MAX_TEXT
    assert len(turns[0].citations) == MAX_ITEMS // 2
    assert turns[0].citations[0].start == 0
    assert turns[1].feedback is None and turns[1].abstained is False
    assert read_turns({"q": "x"}, 5) == [] and read_turns(None, 5) == []
