"""Fit the learned answerer (`make train`): fusion weight, stage-1 scorer, cross-encoder,
stage-2 scorer, abstention threshold and citation margin.

Data (SQuAD 2.0, CC BY-SA 4.0, from shared/data/squad2): the train file fits the fusion
weight, the stage-1 scorer and the cross-encoder; the dev articles of the ``fit`` part fit the
stage-2 scorer (on cross-encoder scores of questions it never saw); the ``calib`` part sets
the threshold and the margin. The ``report`` part is read only by ``--ablation`` (figures
per feature group); `make eval-squad` reports on it. Every part is indexed as its own corpus,
all its articles together, and each question is answered from that corpus's retrieved
passages exactly as `ncpi-qa ask` does.

    python tools/train/train_answerer.py [--data DIR] [--out FILE] [--ablation]

Fixed seed. On this 2-core CPU the run takes about 15 minutes, 8 of them the cross-encoder
(5-12 (question, sentence) training pairs a second, depending on what else runs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from fit_reranker import fit_cross_encoder, make_pairs
from train_data import Item, featurize, hit1, log, part_data
from train_mlp import SEED, fit_mlp

from ncpi_qa.evals import squad
from ncpi_qa.qa.answer import stage2_features
from ncpi_qa.qa.features import FEATURES, GROUPS
from ncpi_qa.qa.model import STAGE2_FEATURES, WEIGHTS, AnswerModel
from ncpi_qa.qa.reranker import RERANKER
from ncpi_qa.settings import Settings, project_root

DATA = project_root().parent / "shared" / "data" / "squad2"
RERANK_TOP = 8
# Cross-encoder training pairs: ~9 minutes per 1,000 on these 2 cores when they are busy.
RERANK_PAIRS = 6400


def stage1_logits(mlp, items: list[Item]) -> list[np.ndarray]:
    return [mlp.scores(it.x) if len(it.x) else np.zeros(0, np.float32) for it in items]


def rerank_items(items: list[Item], s1s, reranker) -> list[Item]:
    """The top candidates of stage 1, with the stage-2 features (cross-encoder scores)."""
    out = []
    for n, (it, s1) in enumerate(zip(items, s1s, strict=True)):
        top = np.argsort(-s1, kind="stable")[:RERANK_TOP]
        ce = reranker.score(it.question, [it.texts[i] for i in top])
        x2 = stage2_features(it.x[top], s1[top], ce) if len(top) else np.zeros((0, 1))
        out.append(
            Item(x2, it.y[top], it.unanswerable, it.question, [it.texts[i] for i in top], it.z[top])
        )
        if (n + 1) % 500 == 0:
            log(f"cross-encoder: {n + 1}/{len(items)} questions")
    return out


def outcomes(mlp, null: float, items):
    """Per question: (answerability, whether the top sentence holds the answer, logits, item)."""
    probe = AnswerModel(mlp, null, 0.5, 0.0)
    out = []
    for it in items:
        logits = mlp.scores(it.x) if len(it.x) else np.zeros(0)
        a = probe.answerability(logits)
        top_ok = bool(len(it.x)) and it.y[int(np.argmax(logits))] > 0
        out.append((a, top_ok, it.unanswerable, logits, it))
    return out


def accuracy(outs, t: float) -> tuple[float, float]:
    ans = [(a, ok) for a, ok, u, _, _ in outs if not u]
    una = [a for a, _, u, _, _ in outs if u]
    has = sum(a >= t and ok for a, ok in ans) / max(len(ans), 1)
    no = sum(a < t for a in una) / max(len(una), 1)
    return has, no


def calibrate(outs) -> float:
    """The threshold that maximises (HasAns + NoAns) / 2 on the calibration articles."""
    grid = np.linspace(0.05, 0.95, 91)
    return float(max(grid, key=lambda t: (sum(accuracy(outs, t)), -abs(t - 0.5))))


def calibrate_margin(outs, threshold: float, max_sentences: int = 3) -> tuple[float, dict]:
    """The widest logit margin for extra quoted sentences whose citations stay >= 0.95 in the
    support's passage on the calibration articles (answer accuracy rises with each)."""
    table = {}
    for margin in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0):
        n_ok = n_cited = n_in = n_ans = 0
        for a, _, unans, logits, it in outs:
            if unans or a < threshold or not len(logits):
                continue
            order = np.argsort(-logits, kind="stable")
            chosen = [i for i in order if logits[i] >= logits[order[0]] - margin][:max_sentences]
            n_ans += 1
            n_ok += any(it.y[i] > 0 for i in chosen)
            n_cited += len(chosen)
            n_in += sum(it.z[i] > 0 for i in chosen)
        table[margin] = (n_ok / max(n_ans, 1), n_in / max(n_cited, 1))
    good = [m for m, (_, prec) in table.items() if prec >= 0.95] or [0.0]
    return max(good), {str(m): [round(a, 4), round(p, 4)] for m, (a, p) in table.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--reranker", type=Path, default=RERANKER)
    ap.add_argument("--work", type=Path, default=project_root() / "build" / "squad")
    ap.add_argument("--reuse-reranker", action="store_true", help="keep an existing reranker")
    ap.add_argument("--ablation", action="store_true", help="also fit without each group")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    from ncpi_qa.index.embedding import BUNDLED, get_embedder, model_path
    from ncpi_qa.qa.reranker import CrossEncoder

    settings = Settings()
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    dev = squad.load_squad(args.data / "dev-v2.0-15-articles.json")
    train = squad.load_squad(args.data / "train-v2.0-10-articles.json")
    split = squad.split_titles([a.title for a in dev])
    parts = {
        "train": part_data("train", train, settings, embedder, args.work),
        "fit": part_data("fit", squad.select(dev, "fit"), settings, embedder, args.work),
        "calib": part_data("calib", squad.select(dev, "calib"), settings, embedder, args.work),
    }
    grid = [round(w, 2) for w in np.linspace(0, 1, 21)]
    fusion = {w: hit1(parts["train"], w) for w in grid}
    weight = max(grid, key=lambda w: (fusion[w], -abs(w - 0.5)))
    log(
        f"fusion on train: hit@1 dense {fusion[1.0]:.3f}, bm25 {fusion[0.0]:.3f}, "
        f"rrf {hit1(parts['train'], None):.3f}, linear w={weight} {fusion[weight]:.3f}"
    )
    data = {k: featurize(p, weight) for k, p in parts.items()}
    tr = data["train"]
    stage1, null1 = fit_mlp([i.x for i in tr], [i.y for i in tr], FEATURES, log=log)
    s1 = {k: stage1_logits(stage1, v) for k, v in data.items()}
    t_ce = 0.0
    if not (args.reuse_reranker and args.reranker.exists()):
        pairs = make_pairs(tr, s1["train"], n_neg=1, seed=SEED)[:RERANK_PAIRS]
        log(f"cross-encoder: {len(pairs)} training pairs")
        t_ce = fit_cross_encoder(pairs, model_path(BUNDLED), args.reranker, SEED, log=log)
    reranker = CrossEncoder(args.reranker)
    fit2 = rerank_items(data["fit"], s1["fit"], reranker)
    cal2 = rerank_items(data["calib"], s1["calib"], reranker)
    stage2, null2 = fit_mlp([i.x for i in fit2], [i.y for i in fit2], STAGE2_FEATURES, log=log)
    outs = outcomes(stage2, null2, cal2)
    threshold = calibrate(outs)
    has, no = accuracy(outs, threshold)
    margin, margins = calibrate_margin(outs, threshold)
    model = AnswerModel(stage1, null2, threshold, margin, stage2=stage2, rerank_top=RERANK_TOP)
    model.meta = {
        "fusion_dense_weight": weight,
        "fusion_train_hit1": {str(k): round(v, 4) for k, v in fusion.items()},
        "trained_on": {
            "stage1_and_reranker": f"SQuAD 2.0 train file, {len(train)} articles",
            "stage2": split["fit"],
            "questions": len(tr) + len(fit2),
        },
        "calibrated_on": split["calib"],
        "calib_hasans_top1": round(has, 4),
        "calib_noans": round(no, 4),
        "calib_margins_acc_prec": margins,
        "seed": SEED,
        "reranker_seconds": round(t_ce, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    model.save(args.out)
    log(
        f"threshold {threshold:.2f}, margin {margin}: calib HasAns(top-1) {has:.3f}, NoAns {no:.3f}"
    )
    log(f"wrote {args.out} and {args.reranker} in {time.perf_counter() - t0:.0f}s")
    if args.ablation:
        ablation(model, data, s1, fit2, cal2, reranker, parts, dev, settings, embedder, args)
    return 0


def ablation(model, data, s1, fit2, cal2, reranker, parts, dev, settings, embedder, args):
    """Sentence-level HasAns/NoAns on the report part (never fitted on), the threshold
    calibrated on calib each time: the full model, stage 1 alone, and stage 2 without each
    feature group."""
    rep = part_data("report", squad.select(dev, "report"), settings, embedder, args.work)
    items = featurize(rep, model.meta["fusion_dense_weight"])
    rep1 = stage1_logits(model.stage1, items)
    rep2 = rerank_items(items, rep1, reranker)
    table = {
        "full model": accuracy(outcomes(model.stage2, model.null_score, rep2), model.threshold)
    }
    tr = data["train"]
    st1, n1 = fit_mlp([i.x for i in tr], [i.y for i in tr], FEATURES, log=lambda m: None)
    t1 = calibrate(outcomes(st1, n1, data["calib"]))
    table["stage 1 only (no cross-encoder)"] = accuracy(outcomes(st1, n1, items), t1)
    for group, cols in {**GROUPS, "cross-encoder": ("ce", "ce_margin", "ce_rank_inv")}.items():
        m, n = fit_mlp(
            [i.x for i in fit2], [i.y for i in fit2], STAGE2_FEATURES, drop=cols, log=lambda m: None
        )
        t = calibrate(outcomes(m, n, cal2))
        table[f"without {group}"] = accuracy(outcomes(m, n, rep2), t)
    print(json.dumps({k: [round(a, 4), round(b, 4)] for k, (a, b) in table.items()}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
