"""Fit the answerer around the reader (`make train`, after train_reader.py): the fusion weight,
the stage-1 scorer, the stage-2 scorer over the reader's readings, the calibration of its
confidence, the threshold and the citation margin.

Data (SQuAD 2.0, CC BY-SA 4.0, from shared/data/squad2): the train-10 file fits the fusion
weight and stage 1 (features only: no reader). The reader was trained on the whole train
split and the ``fit`` dev articles, so its scores on those are optimistic; stage 2, the
calibration and the threshold are fitted on the ``calib`` dev articles, which it never saw,
with 5-fold cross-fitting by article: every calibration figure and the threshold come from
out-of-fold predictions. A fifth of the calib articles stays out of its index and their
questions are asked as out of scope (squad.scope_split). The ``report`` part is never read
here; `make eval-squad` reports on it.

    python tools/train/train_answerer.py [--data DIR] [--out FILE] [--reader FILE]
    python tools/train/train_answerer.py --curve build/reader   # the learning curve

Fixed seed. On these 2 CPU cores the run takes about 15 minutes, most of it the reader
reading 12 candidates of each calib question.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import fit_calibrator
import numpy as np
from train_data import Item, domain_part, featurize, hit1, log, part_data
from train_mlp import SEED, fit_mlp

from ncpi_qa.evals import squad
from ncpi_qa.qa.answer import stage2_features
from ncpi_qa.qa.features import FEATURES, STAGE2_FEATURES
from ncpi_qa.qa.model import WEIGHTS, AnswerModel
from ncpi_qa.qa.reader import READER, Reading
from ncpi_qa.settings import Settings, project_root

DATA = project_root().parent / "shared" / "data" / "squad2"
DOMAIN = project_root().parent / "shared" / "data" / "domain-dev"
READ_TOP = 12
FOLDS = 5
STAGE2_HIDDEN = (32,)


def stage1_logits(mlp, items: list[Item]) -> list[np.ndarray]:
    return [mlp.scores(it.x) if len(it.x) else np.zeros(0, np.float32) for it in items]


def read_items(items: list[Item], s1s, reader, cache: Path) -> list[list[Reading]]:
    """The reader's readings of each question's stage-1 top candidates (cached on disk,
    keyed by the reader's weights and what it reads)."""
    tops = [np.argsort(-s1, kind="stable")[:READ_TOP] for s1 in s1s]
    h = hashlib.sha1(Path(reader.path).read_bytes())
    for it, top in zip(items, tops, strict=True):
        h.update(it.question.encode())
        for i in top:
            h.update(f"{it.headings[i]}\x00{it.previous[i]}\x00{it.texts[i]}\x01".encode())
    path = cache / f"readings-{h.hexdigest()[:16]}.json"
    if path.exists():
        raw = json.loads(path.read_text())
        return [[Reading(a, tuple(s) if s else None, b) for a, s, b in q] for q in raw]
    out, t0 = [], time.perf_counter()
    for n, (it, top) in enumerate(zip(items, tops, strict=True)):
        items_ = [(it.headings[i], it.previous[i], it.texts[i]) for i in top]
        out.append(reader.read(it.question, items_))
        if (n + 1) % 250 == 0:
            log(f"reader: {n + 1}/{len(items)} questions ({time.perf_counter() - t0:.0f}s)")
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([[[r.logit, r.span, r.span_logit] for r in q] for q in out]))
    return out


def stage2_items(items: list[Item], s1s, readings) -> list[Item]:
    """Each question's read candidates with their stage-2 features."""
    out = []
    for it, s1, rd in zip(items, s1s, readings, strict=True):
        top = np.argsort(-s1, kind="stable")[:READ_TOP]
        x2 = stage2_features(it.x[top], s1[top], rd) if len(top) else np.zeros((0, 1))
        out.append(
            it._replace(
                x=x2,
                y=it.y[top],
                z=it.z[top],
                texts=[it.texts[i] for i in top],
                headings=[it.headings[i] for i in top],
                previous=[it.previous[i] for i in top],
            )
        )
    return out


def answer_logit(mlp, null: float, x: np.ndarray) -> tuple[float, np.ndarray]:
    """(logit of the softmax's answer share, the candidates' logits)."""
    if not len(x):
        return -30.0, np.zeros(0)
    s = mlp.scores(x)
    top = max(float(s.max()), null)
    return float(np.log(np.exp(s - top).sum()) - (null - top)), s


def cross_fit(items: list[Item], folds: int = FOLDS):
    """Out-of-fold (answer logit, whether the best candidate holds the answer, logits) per
    question: stage 2 fitted on the other folds' articles each time."""
    groups = sorted({it.group for it in items})
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    oof = [None] * len(items)
    for f in range(folds):
        train = [it for it in items if fold_of[it.group] != f]
        mlp, null = fit_mlp(
            [i.x for i in train],
            [i.y for i in train],
            STAGE2_FEATURES,
            hidden=STAGE2_HIDDEN,
            log=lambda m: None,
        )
        for n, it in enumerate(items):
            if fold_of[it.group] == f:
                lp, s = answer_logit(mlp, null, it.x)
                ok = bool(len(s)) and it.y[int(np.argmax(s))] > 0
                oof[n] = (lp, ok, s)
    return oof


def fit_platt(lp: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    """Logistic regression of correctness on the answer logit (Newton's method)."""
    a, b = 1.0, 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(a * lp + b)))
        g = np.array([((p - ok) * lp).sum(), (p - ok).sum()])
        w = p * (1 - p) + 1e-9
        hess = np.array([[(w * lp * lp).sum(), (w * lp).sum()], [(w * lp).sum(), w.sum()]])
        step = np.linalg.solve(hess + 1e-6 * np.eye(2), g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-8:
            break
    return float(a), float(b)


def kind_accuracy(conf, ok, kinds, t: float) -> dict[str, float]:
    out = {}
    for k in ("answerable", "unanswerable", "oos"):
        idx = [i for i, kk in enumerate(kinds) if kk == k]
        if not idx:
            continue
        if k == "answerable":
            out[k] = sum(conf[i] >= t and ok[i] for i in idx) / len(idx)
        else:
            out[k] = sum(conf[i] < t for i in idx) / len(idx)
    return out


def choose_threshold(conf, ok, kinds) -> float:
    """The confidence threshold that maximises the mean accuracy over the three kinds."""
    grid = np.linspace(0.02, 0.98, 97)

    def value(t):
        acc = kind_accuracy(conf, ok, kinds, t)
        return (sum(acc.values()) / len(acc), -abs(t - 0.5))

    return float(max(grid, key=value))


def ece(conf, ok, bins: int = 10) -> tuple[float, list[dict]]:
    """Expected calibration error and the reliability table (equal-width bins)."""
    conf, ok = np.asarray(conf), np.asarray(ok, dtype=float)
    table, total = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        m = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        if not m.any():
            continue
        c, a = float(conf[m].mean()), float(ok[m].mean())
        total += m.sum() * abs(c - a)
        table.append({"bin": [lo, hi], "n": int(m.sum()), "confidence": c, "accuracy": a})
    return float(total / max(len(conf), 1)), table


def calibrate_margin(items, logits, conf, threshold: float, max_sentences: int = 3):
    """The widest logit margin for extra quoted sentences whose citations stay >= 0.95 in the
    support's passage (out of fold), and the table it was chosen from."""
    table = {}
    for margin in (0.0, 0.5, 1.0, 1.5, 2.0):
        n_ok = n_cited = n_in = n_ans = 0
        for it, s, c in zip(items, logits, conf, strict=True):
            if it.kind != "answerable" or c < threshold or not len(s):
                continue
            order = np.argsort(-s, kind="stable")
            chosen = [i for i in order if s[i] >= s[order[0]] - margin][:max_sentences]
            n_ans += 1
            n_ok += any(it.y[i] > 0 for i in chosen)
            n_cited += len(chosen)
            n_in += sum(it.z[i] > 0 for i in chosen)
        table[margin] = (n_ok / max(n_ans, 1), n_in / max(n_cited, 1))
    good = [m for m, (_, prec) in table.items() if prec >= 0.95] or [0.0]
    return max(good), {str(m): [round(a, 4), round(p, 4)] for m, (a, p) in table.items()}


def calib_figures(items2: list[Item]) -> dict:
    """Out-of-fold figures on the calib part: threshold, accuracies by kind, calibration."""
    oof = cross_fit(items2)
    lp = np.array([o[0] for o in oof])
    ok = np.array([o[1] for o in oof], dtype=float)
    a, b = fit_platt(lp, ok)
    conf = 1 / (1 + np.exp(-(a * lp + b)))
    kinds = [it.kind for it in items2]
    t = choose_threshold(conf, ok, kinds)
    err, table = ece(conf, ok)
    ans = [i for i, k in enumerate(kinds) if k == "answerable"]
    return {
        "calibration": (a, b),
        "threshold": t,
        "accuracy": {k: round(v, 4) for k, v in kind_accuracy(conf, ok, kinds, t).items()},
        "top1_answerable": round(float(ok[ans].mean()), 4) if ans else None,
        "ece": round(err, 4),
        "reliability": table,
        "logits": [o[2] for o in oof],
        "lp": lp,
        "conf": conf,
    }


def build_parts(args, settings, embedder) -> dict:
    dev = squad.load_dev(args.data)
    indexed, held = squad.scope_split(squad.select(dev, "calib"))
    parts = {"calib": part_data("calib", indexed, settings, embedder, args.work, oos=held)}
    if not args.curve:
        if not args.reuse_stage1:
            train = squad.load_squad(args.data / "train-v2.0-10-articles.json")
            parts["train"] = part_data("train", train, settings, embedder, args.work)
        if args.domain and (args.domain / "qa.jsonl").exists():
            parts["domain"] = domain_part("domain", args.domain, settings, embedder, args.work)
    return parts


def fit_stage1(args, parts):
    """(stage 1, the fusion weight, hit@1 by weight, train questions): fitted on the train-10
    file, which no reader reads; ``--reuse-stage1`` takes them from an earlier answerer's
    weights instead (the same data and seed: the same result, minutes saved)."""
    if args.reuse_stage1:
        from ncpi_qa.qa.model import load_model

        old = load_model(args.reuse_stage1)
        fusion = {float(k): v for k, v in old.meta["fusion_train_hit1"].items()}
        log(f"stage 1 and fusion weight from {args.reuse_stage1}")
        return (
            old.stage1,
            old.meta["fusion_dense_weight"],
            fusion,
            old.meta["trained_on"].get("stage1_questions", 0),
        )
    grid = [round(w, 2) for w in np.linspace(0, 1, 21)]
    fusion = {w: hit1(parts["train"], w) for w in grid}
    weight = max(grid, key=lambda w: (fusion[w], -abs(w - 0.5)))
    log(
        f"fusion on train: hit@1 dense {fusion[1.0]:.3f}, bm25 {fusion[0.0]:.3f}, "
        f"rrf {hit1(parts['train'], None):.3f}, linear w={weight} {fusion[weight]:.3f}"
    )
    tr = featurize(parts["train"], weight)
    stage1, _ = fit_mlp([i.x for i in tr], [i.y for i in tr], FEATURES, log=log)
    return stage1, weight, fusion, len(tr)


def domain_items(args, part, stage1, stage2, null2, weight, reader):
    """The domain set's fit pages read and scored by the final stage 2 (never fitted on
    them): (items, answer logits, logits)."""
    from ncpi_qa.evals.domain import part_pages

    keep = part_pages(args.domain, "fit")
    dom = [it for it in featurize(part, weight) if it.group in keep]
    s1 = stage1_logits(stage1, dom)
    items = stage2_items(dom, s1, read_items(dom, s1, reader, args.work / "domain"))
    scored = [answer_logit(stage2, null2, it.x) for it in items]
    return items, [lp for lp, _ in scored], [s for _, s in scored]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--reader", type=Path, default=READER)
    ap.add_argument("--reuse-stage1", type=Path, help="an answerer.json whose stage 1 to keep")
    ap.add_argument(
        "--domain", type=Path, default=DOMAIN,
        help="the policy-prose set (its fit pages calibrate; its report pages are never read)",
    )  # fmt: skip
    ap.add_argument("--work", type=Path, default=project_root() / "build" / "squad")
    ap.add_argument("--curve", type=Path, help="a train_reader --work folder: score its snapshots")
    ap.add_argument(
        "--curve-limit", type=int, default=0, help="--curve: a seeded sample of calib questions"
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    from ncpi_qa.index.embedding import get_embedder
    from ncpi_qa.qa.model import load_model
    from ncpi_qa.qa.reader import Reader

    settings = Settings()
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    parts = build_parts(args, settings, embedder)
    if args.curve:
        from curve import curve

        return curve(args, parts, load_model(args.out))
    stage1, weight, fusion, n_train = fit_stage1(args, parts)
    cal = featurize(parts["calib"], weight)
    s1 = stage1_logits(stage1, cal)
    recall = np.mean(
        [
            it.y[np.argsort(-s, kind="stable")[:READ_TOP]].any()
            for it, s in zip(cal, s1, strict=True)
            if it.kind == "answerable"
        ]
    )
    log(f"stage 1: the answer is among the top {READ_TOP} for {recall:.3f} of answerable")
    reader = Reader(args.reader)
    items2 = stage2_items(cal, s1, read_items(cal, s1, reader, args.work / "calib"))
    fig = calib_figures(items2)
    margin, margins = calibrate_margin(items2, fig["logits"], fig["conf"], fig["threshold"])
    stage2, null2 = fit_mlp(
        [i.x for i in items2], [i.y for i in items2], STAGE2_FEATURES, hidden=STAGE2_HIDDEN, log=log
    )
    model = AnswerModel(
        stage1,
        null2,
        fig["threshold"],
        margin,
        stage2=stage2,
        read_top=READ_TOP,
        calibration=fig["calibration"],
    )
    rows = fit_calibrator.rows_for(items2, fig["lp"], fig["logits"], "squad")
    if "domain" in parts:
        d_items, d_lp, d_logits = domain_items(
            args, parts["domain"], stage1, stage2, null2, weight, reader
        )
        rows += fit_calibrator.rows_for(d_items, d_lp, d_logits, "domain")
    cal, t_answer, t_none, cal_meta = fit_calibrator.fit(rows, log=log)
    model.calibrator, model.threshold, model.none_tier = cal, t_answer, t_none
    model.meta = {
        "fusion_dense_weight": weight,
        "fusion_train_hit1": {str(k): round(v, 4) for k, v in fusion.items()},
        "trained_on": {
            "stage1": "SQuAD 2.0 train-10 file",
            "stage1_questions": n_train,
            "stage2_and_calibration": sorted({it.group for it in items2}),
            "questions": n_train + len(items2),
        },
        "stage1_recall_at_read_top": round(float(recall), 4),
        "calib_out_of_fold": {
            "accuracy": fig["accuracy"],
            "top1_answerable": fig["top1_answerable"],
            "auc_answerable_vs_lookalike": fit_calibrator.auc(
                [c for c, it in zip(fig["conf"], items2, strict=True) if it.kind == "answerable"],
                [c for c, it in zip(fig["conf"], items2, strict=True) if it.kind == "unanswerable"],
            ),
            "ece": fig["ece"],
            "reliability": fig["reliability"],
            "margins_acc_prec": margins,
        },
        "calibrator": {
            **cal_meta,
            "answer_threshold": round(t_answer, 4),
            "none_threshold": round(t_none, 4),
            "fitted_on": "SQuAD calib articles (out of fold) + domain-dev fit pages",
        },
        "reader": str(args.reader),
        "seed": SEED,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model.save(args.out)
    log(
        f"Platt threshold {fig['threshold']:.2f}, margin {margin}: calib (out of fold) "
        f"{fig['accuracy']}, top-1 {fig['top1_answerable']}, ECE {fig['ece']}; "
        f"calibrator: answer {t_answer:.3f}, none {t_none:.3f}"
    )
    log(f"wrote {args.out} in {time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
