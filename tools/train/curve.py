"""The learning curve: each reader snapshot of a train_reader.py --work folder scored on the
calib articles, out of fold (`make curve`; train_answerer.py --curve DIR)."""

from __future__ import annotations

import json

import numpy as np
from fit_calibrator import auc as _auc
from train_answerer import READ_TOP, calib_figures, read_items, stage1_logits, stage2_items
from train_data import featurize, log
from train_mlp import SEED

from ncpi_qa.qa.model import AnswerModel


def auc(conf, items2) -> float:
    """P(an answerable question's confidence > a look-alike's): how well they are told apart."""
    pos = [c for c, it in zip(conf, items2, strict=True) if it.kind == "answerable"]
    neg = [c for c, it in zip(conf, items2, strict=True) if it.kind == "unanswerable"]
    v = _auc(pos, neg)
    return float("nan") if v is None else v


def curve(args, parts, model: AnswerModel) -> int:
    """Calib figures (out of fold) for each reader snapshot: the value of more compute."""
    from ncpi_qa.qa.reader import Reader

    weight = model.meta.get("fusion_dense_weight", 0.5)
    cal = featurize(parts["calib"], weight)
    if args.curve_limit and args.curve_limit < len(cal):
        keep = sorted(np.random.default_rng(SEED).choice(len(cal), args.curve_limit, replace=False))
        cal = [cal[i] for i in keep]
    s1 = stage1_logits(model.stage1, cal)
    rows = []
    for snap in sorted(args.curve.glob("reader-*.safetensors")):
        meta = json.loads(snap.with_suffix(".json").read_text())
        items2 = stage2_items(cal, s1, read_items(cal, s1, Reader(snap), args.work / "calib"))
        fig = calib_figures(items2)
        row = {
            "snapshot": snap.name,
            "pairs": meta["pairs"],
            "minutes": round(meta["seconds"] / 60, 1),
            "accuracy": fig["accuracy"],
            "top1_answerable": fig["top1_answerable"],
            "auc_answerable_vs_lookalike": auc(fig["conf"], items2),
            "ece": fig["ece"],
        }
        log(json.dumps(row))
        rows.append(row)
    print(json.dumps(rows, indent=1))
    return 0


__all__ = ["READ_TOP", "auc", "curve"]
