"""A click inside the chat's HTML reaches the handlers as a typed ``Action`` (issue 28 item 7):
its ``data-action`` is read in one place (``actions.parse_action``)."""

from __future__ import annotations

import re

import pytest

from ncpi_qa.apps.chat import render as R
from ncpi_qa.apps.chat.actions import Action, parse_action
from ncpi_qa.apps.chat.indexing import render_sources
from ncpi_qa.schema import Turn
from tests.fakes import manifest_of


@pytest.mark.parametrize(
    ("wire", "action"),
    [
        ("cite:2:1", Action("cite", turn=2, item=1)),
        ({"action": "near:0:3"}, Action("near", turn=0, item=3)),  # as the page sends it
        ("doc:ncpi-2019", Action("doc", doc_id="ncpi-2019")),
        ("doc:d:1:2", Action("doc", turn=1, item=2, doc_id="d")),
        ("doc:d:1:p0", Action("doc", turn=1, item=0, doc_id="d", passage=True)),
        ("fb:4:down", Action("fb", turn=4, rating="down")),
        ("rmyes:ferry-notes", Action("rmyes", doc_id="ferry-notes")),
        ("rmno:", Action("rmno")),
    ],
)
def test_each_form_is_one_typed_action(wire, action):
    assert parse_action(wire) == action


@pytest.mark.parametrize(
    "wire",
    ["", None, 3, {"action": 5}, "copy", "cite:x:1", "cite:-1:1", "cite:1", "fb:0:sideways",
     "doc", "doc::1:2", "doc:d:1", "doc:d:1:px", "rm:", "zzz:1"],
)  # fmt: skip
def test_anything_else_is_no_action(wire):
    assert parse_action(wire) is None


def test_every_action_the_chat_draws_parses():
    cite = {"n": 1, "doc_id": "d", "quote": "Q.", "start": 0, "end": 2, "label": "D"}
    passage = {"chunk_id": "d#0", "doc_id": "d", "start": 0, "end": 2, "text": "Q."}
    turns = [
        Turn(question="A?", answer="Q. [1]", citations=[cite], passages=[passage]),
        Turn(question="B?", answer="No.", abstained=True, tier="none", passages=[passage]),
    ]
    html = R.render_chat(turns) + R.render_citation(turns, 0, 1, {"d": "Q."})
    html += R.render_closest(turns, 1, 0, {"d": "Q."})
    manifest = manifest_of({"doc_id": "up", "title": "Up", "source": "up.txt"})
    html += render_sources(manifest, {}, {"up"}, confirm="up")
    html += render_sources(manifest, {}, {"up"})
    drawn = set(re.findall(r'data-action="([^"]+)"', html)) - {"copy"}
    assert {"cite:0:1", "near:1:0", "fb:0:up", "doc:d:0:1", "doc:d:1:p0", "rmno:", "rm:up",
            "rmyes:up", "doc:up"} <= drawn  # fmt: skip
    assert all(parse_action(a) is not None for a in drawn), drawn
