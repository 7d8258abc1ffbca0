"""Fit the calibrator (qa/calibrator.py) and the two tiers' thresholds, out of fold.

Data: SQuAD 2.0 calib articles (stage 2's out-of-fold logits, train_answerer.cross_fit) and
the policy-prose set's ``fit`` pages (evals/domain.py; stage 2 never saw them). The domain
questions are few (about 116 against ~2,000), so they are weighted to count as much as half
of the SQuAD ones together. Cross-fitted by article / page (5 folds): every threshold and
figure below comes from predictions for questions whose article or page the calibrator did
not see. The domain ``report`` pages are never read here (`ncpi-qa eval --domain ... --part
report` reports on them).

- the answer tier's threshold: the lowest confidence at which what would be asserted is at
  least ``PRECISION`` right, on each kind of text apart (SQuAD articles and policy pages),
  the stricter of the two;
- the none tier's threshold: so that ``OOS_IN_NONE`` of out-of-scope questions fall under
  it, on whichever of the two probabilities (relevance, or P(right) itself) then puts fewer
  answerable questions in the none tier (``Calibrator.none_on``).
"""

from __future__ import annotations

import numpy as np

from ncpi_qa.qa.calibrator import Calibrator, question_features

PRECISION = {"squad": 0.80, "domain": 0.92}  # policy text with a margin above its 0.90 floor
OOS_IN_NONE = 0.98
FOLDS = 5
L2 = 3.0


def rows_for(items2, lps, logits, source: str):
    """(features, right, relevant, group, kind, source) per question."""
    out = []
    for it, lp, s in zip(items2, lps, logits, strict=True):
        f = (
            question_features(lp, np.asarray(s), it.x)
            if len(s)
            else question_features(-30, s, it.x)
        )
        right = bool(len(s)) and it.kind == "answerable" and it.y[int(np.argmax(s))] > 0
        out.append((f, right, it.kind != "oos", f"{source}:{it.group}", it.kind, source))
    return out


def _arrays(rows):
    x = np.stack([r[0] for r in rows])
    right = np.array([r[1] for r in rows], dtype=float)
    relevant = np.array([r[2] for r in rows], dtype=float)
    return x, right, relevant


def _weights(rows) -> np.ndarray:
    n = {src: sum(r[5] == src for r in rows) for src in ("squad", "domain")}
    w_dom = 0.5 * n["squad"] / n["domain"] if n["domain"] else 1.0
    return np.array([w_dom if r[5] == "domain" else 1.0 for r in rows])


def cross_fit(rows, folds: int = FOLDS):
    """Out-of-fold (P(right), P(relevant)) for every row, folds by article / page."""
    groups = sorted({r[3] for r in rows})
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    x, right, relevant = _arrays(rows)
    w = _weights(rows)
    conf, rel = np.zeros(len(rows)), np.zeros(len(rows))
    for f in range(folds):
        test = np.array([fold_of[r[3]] == f for r in rows])
        cal = Calibrator.fit(x[~test], right[~test], relevant[~test], w[~test], L2)
        for i in np.flatnonzero(test):
            conf[i], rel[i] = cal.predict(x[i])
    return conf, rel


def precision_threshold(conf, right, target: float) -> float:
    """The lowest threshold at which the share right of what reaches it is >= target."""
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(right[order])
    prec = hits / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(prec >= target)
    if not len(ok):
        return 1.0
    k = ok.max()  # the most that can be asserted at that precision
    return float(conf[order[k]])


def none_threshold(rel, kinds, share: float = OOS_IN_NONE) -> float:
    oos = np.sort(np.array([r for r, k in zip(rel, kinds, strict=True) if k == "oos"]))
    if not len(oos):
        return 0.0
    return float(oos[min(len(oos) - 1, int(np.ceil(share * len(oos))) - 1)] + 1e-6)


def figures(conf, rel, rows, t: float, tn: float) -> dict:
    """Out-of-fold figures per source at the chosen thresholds."""
    out = {}
    for src in sorted({r[5] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r[5] == src]
        kinds = [rows[i][4] for i in idx]
        c, v = conf[idx], rel[idx]
        right = np.array([rows[i][1] for i in idx])
        asserted = c >= t
        tier_none = (c < t) & (v < tn)
        ans = np.array([k == "answerable" for k in kinds])
        look = np.array([k == "unanswerable" for k in kinds])
        oos = np.array([k == "oos" for k in kinds])
        out[src] = {
            "n": len(idx),
            "asserted_precision": _r(right[asserted].sum(), asserted.sum()),
            "answer_tier_coverage": _r((right & asserted).sum(), ans.sum()),
            "lookalike_asserted": _r((asserted & look).sum(), look.sum()),
            "oos_in_none": _r((tier_none & oos).sum(), oos.sum()),
            "answerable_in_none": _r((tier_none & ans).sum(), ans.sum()),
            "auc_answerable_vs_lookalike": auc(c[ans], c[look]),
        }
    return out


def auc(pos, neg) -> float | None:
    if not len(pos) or not len(neg):
        return None
    pos, neg = np.asarray(pos), np.asarray(neg)
    gt = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    return round(float(gt), 4)


def _r(a, b):
    return round(float(a) / float(b), 4) if b else None


def fit(rows, log=print):
    """(the calibrator fitted on all rows, answer threshold, none threshold, figures)."""
    conf, rel = cross_fit(rows)
    right = np.array([r[1] for r in rows], dtype=float)
    kinds = [r[4] for r in rows]
    ts = {}
    for src, target in PRECISION.items():
        idx = [i for i, r in enumerate(rows) if r[5] == src]
        if idx:
            ts[src] = precision_threshold(conf[idx], right[idx], target)
    t = max(ts.values()) if ts else 0.5
    ans = np.array([k == "answerable" for k in kinds])
    oos = np.array([k == "oos" for k in kinds])
    src = np.array([r[5] for r in rows])
    for q in (0.8, 0.9, 0.95, 0.98, 0.99):
        for on, score in (("relevance", rel), ("confidence", conf)):
            tq = none_threshold(score, kinds, q)
            cells = []
            for so in ("squad", "domain"):
                m = src == so
                lost = ((score < tq) & ans & m).sum() / max((ans & m).sum(), 1)
                got = ((score < tq) & oos & m).sum() / max((oos & m).sum(), 1)
                cells.append(f"{so}: oos {got:.3f} answerable {lost:.3f}")
            log(f"none tier at OOS quantile {q} on {on} ({tq:.3f}): " + "; ".join(cells))
    options = {}
    for on, score in (("relevance", rel), ("confidence", conf)):
        tn = none_threshold(score, kinds)
        if on == "confidence" and tn > t:
            continue  # the answer tier would swallow out-of-scope questions
        lost = float(((score < tn) & ans).sum() / max(ans.sum(), 1))
        options[on] = (lost, tn)
    none_on = min(options, key=lambda k: options[k][0])
    tn = options[none_on][1]
    figs = figures(conf, rel if none_on == "relevance" else conf, rows, t, tn)
    log(
        f"calibrator thresholds by source {ts}: answer {t:.4f}; none on {none_on} {tn:.4f} "
        f"(answerable in none by option {options}); oof {figs}"
    )
    x, right_, relevant = _arrays(rows)
    cal = Calibrator.fit(x, right_, relevant, _weights(rows), L2)
    cal.none_on = none_on
    meta = {"thresholds_by_source": ts, "none_on": none_on, "out_of_fold": figs}
    return cal, t, tn, meta
