"""The tiers' figures (evals/promise.py) on hand-made outcomes: each expected value counted by
hand from the rows below."""

from __future__ import annotations

import pytest

from ncpi_qa.evals.promise import aurc, coverage_at, promise_figures, risk_coverage


def q(kind, tier, conf, forced_right=False, first_right=False, correct=None):
    if correct is None:
        correct = tier == "answer" and forced_right if kind == "answerable" else tier != "answer"
    return {
        "kind": kind,
        "tier": tier,
        "confidence": conf,
        "forced_right": forced_right,
        "first_right": first_right,
        "correct": correct,
    }


ROWS = [
    q("answerable", "answer", 0.95, True, True),  # asserted, right
    q("answerable", "answer", 0.90, True, True),  # asserted, right
    q("unanswerable", "answer", 0.85),  # a look-alike asserted: wrong
    q("answerable", "answer", 0.80, False, False),  # asserted, wrong sentence
    q("answerable", "closest", 0.40, True, True),  # not asserted, right sentence first
    q("unanswerable", "closest", 0.30),
    q("oos", "none", 0.05),
    q("oos", "closest", 0.20),
]


def test_promise_figures_count_each_tier_by_kind():
    f = promise_figures(ROWS)
    assert f["tiers"] == {
        "answerable": {"answer": 3, "closest": 1, "none": 0},
        "unanswerable": {"answer": 1, "closest": 1, "none": 0},
        "oos": {"answer": 0, "closest": 1, "none": 1},
    }
    assert f["n_asserted"] == 4
    assert f["asserted_precision"] == 0.5  # 2 right of 4 asserted
    assert f["answer_tier_coverage"] == 0.5  # 2 of 4 answerable
    assert f["right_first"] == 0.75  # 3 of 4 answerable show the right sentence first
    assert f["forced_right"] == 0.75
    assert f["lookalike_asserted"] == 0.5
    assert f["oos_in_none"] == 0.5
    # answerable 0.95 0.90 0.80 0.40 against look-alikes 0.85 0.30: 6 of 8 pairs ordered
    # (0.80 and 0.40 fall below 0.85)
    assert f["auc_answerable_vs_lookalike"] == 0.75


def test_risk_coverage_curve_and_its_area():
    curve = risk_coverage(ROWS)
    # most confident first: 0.95 R, 0.90 R, 0.85 W, 0.80 W, 0.40 R, 0.30, 0.20, 0.05
    assert [p["asserted"] for p in curve] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [p["precision"] for p in curve[:5]] == [1.0, 1.0, round(2 / 3, 4), 0.5, 0.6]
    assert [p["coverage"] for p in curve[:5]] == [0.25, 0.5, 0.5, 0.5, 0.75]
    assert coverage_at(curve, 0.9) == 0.5  # two right before the first error
    assert coverage_at(curve, 0.6) == 0.75
    assert coverage_at(curve, 1.01) == 0.0
    risks = [0, 0, 1 / 3, 0.5, 0.4, 0.5, 4 / 7, 5 / 8]
    assert aurc(ROWS) == pytest.approx(sum(risks) / 8, abs=1e-4)


def test_ties_in_confidence_share_one_point():
    rows = [q("answerable", "answer", 0.5, True), q("unanswerable", "answer", 0.5)]
    assert risk_coverage(rows) == [
        {"threshold": 0.5, "precision": 0.5, "coverage": 1.0, "asserted": 2}
    ]
