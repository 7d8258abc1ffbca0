"""`ncpi-qa eval --followups`: the follow-up set's format and scoring (no model: the hashing
embedder and a linear answerer over the fixture corpus)."""

from __future__ import annotations

import json

import pytest

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals.followups import evaluate_followups, format_followups, load_followups

ROWS = [
    {"id": "a", "first": "How quickly does the hub answer referrals?",
     "followup": "When did it open?", "full": "When did the hub open?",
     "answers": ["September 2016"], "support": "The hub opened in"},
    {"id": "b", "first": "How quickly does the hub answer referrals?",
     "followup": "How many times did the safeguarding partnership meet in 2019?",
     "full": "How many times did the safeguarding partnership meet in 2019?",
     "answers": ["9 times"]},
]  # fmt: skip


def _write(tmp_path, rows) -> str:
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"id": "x", "first": "q", "followup": "f", "full": "f"}, "answers"),
        ({"id": "x", "first": "", "followup": "f", "full": "f", "answers": ["a"]}, "first"),
        ({**ROWS[0], "extra": 1}, "unknown field"),
    ],
)
def test_bad_rows_are_refused_with_their_line(tmp_path, bad, message):
    with pytest.raises(DatasetError, match=message):
        load_followups(_write(tmp_path, [ROWS[1], bad]))


def test_duplicate_ids_and_empty_files_are_refused(tmp_path):
    with pytest.raises(DatasetError, match="duplicate"):
        load_followups(_write(tmp_path, [ROWS[0], ROWS[0]]))
    with pytest.raises(DatasetError, match="no pairs"):
        load_followups(_write(tmp_path, []))


def test_every_pair_is_asked_three_ways_and_controls_stay_unchanged(
    fake_index, fake_embedder, simple_model, tmp_path
):
    from ncpi_qa.qa.pipeline import QA

    qa = QA(fake_index, embedder=fake_embedder, model=simple_model)
    pairs = load_followups(_write(tmp_path, ROWS))
    assert [p.standalone for p in pairs] == [False, True]
    result = evaluate_followups(qa, pairs)
    assert result["n_pairs"] == 1 and result["n_standalone"] == 1
    assert result["detected_followups"] == 1.0 and result["standalone_unchanged"] == 1.0
    row = result["per_pair"][0]
    assert row["followup"]["context"]["questions"] == [ROWS[0]["first"]]
    assert row["bare"]["context"] is None and row["full"]["context"] is None
    for way in ("followup", "full", "bare"):
        assert result[f"{way}_accuracy"] == float(row[way]["correct"])
    assert result["followup_minus_full"] == round(
        result["followup_accuracy"] - result["full_accuracy"], 4
    )
    table = format_followups(result)
    assert "follow-up minus written out" in table and "written out in full" in table
