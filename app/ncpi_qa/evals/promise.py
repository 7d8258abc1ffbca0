"""The promise each tier makes, measured (pure; definitions in evals/README.md, "Tiers").

Per question the eval records its kind (answerable / unanswerable, i.e. a look-alike / oos),
the tier it was given (answer / closest / none), its calibrated confidence, whether what the
answer tier says would be right (``forced_right``: the answer the tier would give at any
threshold, scored against the gold answers) and whether the first sentence shown (the answer's
or the closest passage's) holds a gold answer (``first_right``). From those:

- ``asserted_precision``: of everything put in the answer tier (any kind), the share right;
- ``answer_tier_coverage``: answerable questions answered right in the answer tier;
- ``right_first``: answerable questions whose first shown sentence (answer or closest tier)
  holds the answer;
- ``lookalike_asserted``: look-alikes put in the answer tier; ``oos_in_none``: out-of-scope
  questions given the none tier;
- the risk-coverage curve over the confidence (each threshold: precision of what would be
  asserted against the share of answerable questions answered right), its area (AURC: the
  mean risk of the k most confident answers, k = 1..n, Geifman & El-Yaniv 2017), and the
  coverage reached at 90 % and 95 % precision.
"""

from __future__ import annotations

import math

KINDS = ("answerable", "unanswerable", "oos")
TIER_NAMES = ("answer", "closest", "none")


def _ratio(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def tier_of(rec: dict) -> str:
    """A record's tier; records from before the tiers: answer unless it abstained, then
    closest when it still cites, else none."""
    tier = rec.get("tier")
    if tier in TIER_NAMES:
        return tier
    if not rec.get("abstained"):
        return "answer"
    return "closest" if rec.get("citations") else "none"


def tier_table(per_question: list[dict]) -> dict[str, dict[str, int]]:
    """{kind: {tier: count}} over the kinds present."""
    out = {}
    for kind in KINDS:
        qs = [q for q in per_question if q["kind"] == kind]
        if qs:
            out[kind] = {t: sum(q["tier"] == t for q in qs) for t in TIER_NAMES}
    return out


def promise_figures(per_question: list[dict]) -> dict:
    """The tiers' figures; each per-question dict has kind, tier, correct, confidence,
    forced_right and first_right."""
    ans = [q for q in per_question if q["kind"] == "answerable"]
    look = [q for q in per_question if q["kind"] == "unanswerable"]
    oos = [q for q in per_question if q["kind"] == "oos"]
    asserted = [q for q in per_question if q["tier"] == "answer"]
    right_asserted = [q for q in asserted if q["kind"] == "answerable" and q["correct"]]
    out = {
        "tiers": tier_table(per_question),
        "n_asserted": len(asserted),
        "asserted_precision": _ratio(len(right_asserted), len(asserted)),
        "answer_tier_coverage": _ratio(len(right_asserted), len(ans)),
        "right_first": _ratio(
            sum(q["tier"] in ("answer", "closest") and q["first_right"] for q in ans), len(ans)
        ),
        "forced_right": _ratio(sum(q["forced_right"] for q in ans), len(ans)),
        "lookalike_asserted": _ratio(sum(q["tier"] == "answer" for q in look), len(look)),
        "oos_in_none": _ratio(sum(q["tier"] == "none" for q in oos), len(oos)),
    }
    out["auc_answerable_vs_lookalike"] = auc(
        [q["confidence"] for q in _ranked(ans)], [q["confidence"] for q in _ranked(look)]
    )
    curve = risk_coverage(per_question)
    out["risk_coverage"] = curve
    out["aurc"] = aurc(per_question)
    for p in (0.8, 0.9, 0.95):
        out[f"coverage_at_{round(p * 100)}"] = coverage_at(curve, p)
    return out


def _ranked(per_question: list[dict]) -> list[dict]:
    scored = [
        q
        for q in per_question
        if q.get("confidence") is not None and math.isfinite(q["confidence"])
    ]
    return sorted(scored, key=lambda q: -q["confidence"])


def _right(q: dict) -> bool:
    return q["kind"] == "answerable" and bool(q["forced_right"])


def risk_coverage(per_question: list[dict], max_points: int = 60) -> list[dict]:
    """Thresholds at each distinct confidence (thinned to ``max_points``), most confident
    first: {threshold, precision, coverage, asserted}; what would be asserted at a threshold
    is every question (any kind) whose confidence reaches it."""
    ranked = _ranked(per_question)
    n_ans = sum(q["kind"] == "answerable" for q in per_question)
    points, right = [], 0
    for k, q in enumerate(ranked, start=1):
        right += _right(q)
        last = k == len(ranked) or ranked[k]["confidence"] < q["confidence"]
        if last:
            points.append(
                {
                    "threshold": round(q["confidence"], 4),
                    "precision": round(right / k, 4),
                    "coverage": round(right / n_ans, 4) if n_ans else None,
                    "asserted": k,
                }
            )
    if len(points) > max_points:
        step = (len(points) - 1) / (max_points - 1)
        points = [points[round(i * step)] for i in range(max_points)]
    return points


def aurc(per_question: list[dict]) -> float | None:
    """Area under the risk-coverage curve: the mean, over k, of the error rate of the k most
    confident answers (lower is better; an unanswerable question answered is an error)."""
    ranked = _ranked(per_question)
    if not ranked:
        return None
    total, right = 0.0, 0
    for k, q in enumerate(ranked, start=1):
        right += _right(q)
        total += 1 - right / k
    return round(total / len(ranked), 4)


def coverage_at(curve: list[dict], precision: float) -> float:
    """The most answerable questions answered right at any threshold whose precision is at
    least ``precision`` (0 when none reaches it)."""
    ok = [p["coverage"] for p in curve if p["precision"] >= precision and p["coverage"] is not None]
    return max(ok, default=0.0)


def auc(pos: list[float], neg: list[float]) -> float | None:
    """P(an answerable question is more confident than a look-alike): how well the
    confidence tells them apart (ties count half)."""
    if not pos or not neg:
        return None
    gt = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(gt / (len(pos) * len(neg)), 4)
