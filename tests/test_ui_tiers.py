"""The chat's rendering of the three tiers of an answer (schema.TIERS), issue 26 item 2: a
closest passage looks different from an answer and says so in words; a declined answer
lists its closest passages under it, keeps them across later questions and a reload,
reopens them beside the chat and exports them. Rendering logic only: the turns are built
from ``Answer.to_dict()``-shaped fixtures (the shipped model never produces ``closest``);
tests/test_ui_browser_tiers.py runs the same through the real server.
"""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

from ncpi_qa.apps.chat import handlers as H
from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.actions import parse_action
from ncpi_qa.apps.chat.export import answer_text, export_markdown
from ncpi_qa.apps.chat.turns import dump_turns, restore_turns
from ncpi_qa.apps.chat.uploads import Holder
from ncpi_qa.schema import ABSTAIN_PHRASE, CLOSEST_PHRASE, Turn, read_turns
from tests.fakes import manifest_of

TEXT = (
    'Ferry report\n\nThe ferry ran 14 times on Sunday. Its captain said "Wise up or die." '
    "(936–1013) and called it `simples’.\n\nThe harbour master counted 3 gulls."
)
QUOTE = "The ferry ran 14 times on Sunday."
P1 = 'Its captain said "Wise up or die." (936–1013) and called it `simples’.'
P2 = "The harbour master counted 3 gulls."
NONE_TEXT = "The documents don't answer this. The closest passages found are listed below."


def _span(s: str) -> tuple[int, int]:
    a = TEXT.index(s)
    return a, a + len(s)


def _passage(s: str, k: int) -> dict:
    a, b = _span(s)
    return {"chunk_id": f"ferry-{k}", "doc_id": "ferry", "title": "Ferry report",
            "section": "Sunday", "page": None, "start": a, "end": b, "text": s, "score": 0.1,
            "similarity": 0.2, "bm25": 1.0, "label": f"Ferry report · Sunday {k}"}  # fmt: skip


def _cite(s: str) -> dict:
    a, b = _span(s)
    return {"n": 1, "doc_id": "ferry", "title": "Ferry report", "section": "Sunday",
            "page": None, "quote": s, "start": a, "end": b, "score": 1.0,
            "chunk_id": "ferry-0", "span": None, "label": "Ferry report · Sunday"}  # fmt: skip


def _result(tier: str) -> dict:
    if tier == "answer":
        answer, cites = f"**14** — “{QUOTE}” [1]", [_cite(QUOTE)]
    elif tier == "closest":
        answer, cites = f"{CLOSEST_PHRASE} “{QUOTE}” [1]", [_cite(QUOTE)]
    else:
        answer, cites = NONE_TEXT, []
    return {"answer": answer, "abstained": tier != "answer", "tier": tier, "citations": cites,
            "passages": [_passage(P1, 1), _passage(P2, 2)], "best_score": 0.2,
            "threshold": 0.5, "relevance": 0.1, "none_threshold": 0.3}  # fmt: skip


def _turn(question: str, tier: str) -> Turn:
    return Turn.model_validate({**_result(tier), "question": question})


def _turns() -> list[Turn]:
    return [_turn(f"Question {t}?", t) for t in ("answer", "closest", "none")]


def _holder() -> Holder:
    doc = SimpleNamespace(doc_id="ferry", title="Ferry report", text=TEXT, kind="txt",
                          source="ferry.txt", pages=[], headings=[])  # fmt: skip
    store = SimpleNamespace(
        documents={"ferry": doc}, manifest=manifest_of(), is_stale=lambda: False
    )
    return Holder(SimpleNamespace(store=store, settings=None))


def test_the_fixture_follows_the_contract():
    assert NONE_TEXT.startswith(ABSTAIN_PHRASE)
    assert TEXT[slice(*_span(P1))] == P1 and TEXT[slice(*_span(QUOTE))] == QUOTE


def test_closest_reads_as_not_an_answer_and_answer_does_not():
    chat = R.render_chat(_turns())
    turns = re.findall(r'<div class="turn".*?(?=<div class="turn"|$)', chat, flags=re.S)
    assert len(turns) == 3
    answer, closest, none = turns
    assert "not a confirmed answer" not in answer and 'class="answer tier-answer"' in answer
    # a label in words, tied to the answer for a screen reader, and no bold lead
    assert '<p class="tier-label" id="tier-1">Closest passage — not a confirmed answer</p>' in (
        closest
    )
    assert 'class="answer tier-closest" aria-describedby="tier-1"' in closest
    assert "<strong" not in closest
    # its one citation opens like any other
    assert closest.count('data-action="cite:1:1"') == 2  # the [1] marker and its chip
    assert "tier-label" not in none and 'class="answer tier-none"' in none


def test_a_declined_answer_lists_its_closest_passages_under_it():
    none = R.render_chat(_turns()).split('id="turn-2"')[1]
    assert "Closest passages found (not an answer):" in none
    buttons = re.findall(r'data-action="(near:2:\d)"', none)
    assert buttons == ["near:2:0", "near:2:1"]
    assert html.escape("Ferry report · Sunday 1") in none and html.escape(P2) in none
    assert "shown under Passage" not in none  # the old promise of a panel


def test_closest_passages_survive_later_questions_and_a_reload():
    turns = _turns()
    turns.append(_turn("Later?", "answer"))
    saved = dump_turns(turns)  # what the tab keeps in localStorage
    back = restore_turns(json.loads(json.dumps(saved)), 20)
    assert [t.tier for t in back] == ["answer", "closest", "none", "answer"]
    assert [p.text for p in back[2].passages] == [P1, P2]
    assert re.findall(r'data-action="(near:2:\d)"', R.render_chat(back)) == ["near:2:0", "near:2:1"]
    # an older saved turn without a tier is read as its abstention and citations say
    old = [{**t, "tier": None} for t in json.loads(saved)]
    assert [t.tier for t in read_turns(old, 20)] == ["answer", "closest", "none", "answer"]


def test_a_closest_passage_reopens_beside_the_chat_from_the_document():
    turns = _turns() + [_turn("Later?", "answer")]
    panel, _, said = H.do_action(_holder(), parse_action("near:2:0"), turns)
    assert said == "Closest passage 1 for answer 3 shown (not an answer)."
    assert "<h2>Closest passage 1 of 2: Ferry report · Sunday 1</h2>" in panel
    assert f'<div class="passage" {R.SCROLLS}>{html.escape(P1)}</div>' in panel
    assert "Not an answer: the documents don't answer the question" in html.unescape(panel)
    assert "?”." not in html.unescape(panel)  # issue 26: the stray punctuation
    assert 'href="#turn-2">Back to answer 3</a>' in panel
    # the whole document opens with the passage marked, a link back to the answer
    view, _, _ = H.do_action(_holder(), parse_action("doc:ferry:2:p1"), turns)
    assert f'<mark id="quote-mark">{html.escape(P2)}</mark>' in view
    assert 'href="#turn-2">Back to answer 3</a>' in view
    # after a none answer the panel opens on its first closest passage
    first = H.first_panel(_holder(), turns[:3])
    assert 'data-turn="2" data-k="0"' in first


def test_the_export_counts_tiers_apart_and_lists_the_closest_passages():
    md = export_markdown(_turns())
    assert ("3 questions: 1 answered with quotes; 1 with only the closest passage (not a "
            "confirmed answer); 1 not answered by the documents.") in md  # fmt: skip
    closest = md.split("## Q: Question closest?")[1].split("## Q:")[0]
    assert "**Closest passage — not a confirmed answer**" in closest
    none = md.split("## Q: Question none?")[1]
    assert "**Not answered by the documents**" in none
    assert "Closest passages found (not an answer):" in none
    for s in (P1, P2):  # each passage verbatim, in its fenced quote
        assert f"> ```text\n> {s}\n> ```" in none
    copied = answer_text(_turns()[2])
    assert (
        copied.startswith("(Not answered by the documents)")
        and f"2. Ferry report · Sunday 2 — “{P2}”" in copied
    )
