"""The answerer's scorers: small MLPs that score each candidate sentence, with a learned
"no answer" score, read as a softmax over [no answer, candidate 1, ..., candidate n] (the
SQuAD 2.0 reader's null option, over sentences instead of spans), and the calibration that
turns that into P(the answer is right).

Stage 1 scores every candidate from its features (qa/features.py); the reader (qa/reader.py)
reads stage 1's ``read_top`` best with the question; stage 2 scores those from their features,
stage 1's score and the reader's. Inference is numpy only. The weights live in
``weights/answerer.json`` (a few KB, written by ``make train`` from
tools/train/train_answerer.py), with the feature names, the fitted standardisation, and the
calibration and threshold fitted on SQuAD articles neither the reader nor stage 1 saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ncpi_qa.errors import AnswererWeightsError
from ncpi_qa.qa.calibrator import CAL_FEATURES, Calibrator
from ncpi_qa.qa.features import FEATURES, STAGE2_FEATURES

WEIGHTS = Path(__file__).with_name("weights") / "answerer.json"
__all__ = ["AnswerModel", "MLP", "load_model"]


@dataclass
class MLP:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]  # (W [in, out], b [out]); ReLU between

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Each candidate's logit (higher: more likely the sentence that answers)."""
        if x.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {x.shape[1]}")
        h = (x - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0]

    def to_json(self) -> dict:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "layers": [{"w": w.tolist(), "b": b.tolist()} for w, b in self.layers],
        }

    @classmethod
    def from_json(cls, d: dict) -> MLP:
        return cls(
            features=tuple(d["features"]),
            mean=np.asarray(d["mean"], dtype=np.float32),
            scale=np.asarray(d["scale"], dtype=np.float32),
            layers=[
                (np.asarray(x["w"], dtype=np.float32), np.asarray(x["b"], dtype=np.float32))
                for x in d["layers"]
            ],
        )


@dataclass
class AnswerModel:
    """Stage 1 and (with the reader) stage 2; without stage 2, stage 1's scores are final.
    ``calibration`` (a, b) maps the softmax's answer share p to P(the best candidate holds
    the answer) = sigmoid(a * logit(p) + b), fitted out of fold on held-out articles."""

    stage1: MLP
    null_score: float
    threshold: float  # answer when the calibrated confidence >= threshold
    margin: float  # also cite candidates whose score is within this of the best
    stage2: MLP | None = None
    read_top: int = 12
    calibration: tuple[float, float] = (1.0, 0.0)
    meta: dict = field(default_factory=dict)
    # the none tier's threshold on relevance (None: the answer threshold, i.e. no closest tier)
    none_tier: float | None = None
    span_min: float = float("-inf")  # the reader's span logit a lead span needs
    calibrator: Calibrator | None = None  # when fitted: P(right) and P(relevant) per question

    @property
    def none_threshold(self) -> float:
        return self.threshold if self.none_tier is None else self.none_tier

    def answer_logit(self, logits: np.ndarray) -> float:
        """logit(p) of the softmax's answer share over [no answer, candidates] (-30: none)."""
        if len(logits) == 0:
            return -30.0
        top = max(float(logits.max()), self.null_score)
        z = float(np.exp(logits - top).sum())
        return float(np.log(z) - (self.null_score - top))

    def answerability(self, logits: np.ndarray) -> float:
        """The Platt-calibrated confidence that the best candidate answers (0 with none)."""
        if len(logits) == 0:
            return 0.0
        a, b = self.calibration
        return float(1.0 / (1.0 + np.exp(-(a * self.answer_logit(logits) + b))))

    def to_json(self) -> dict:
        return {
            "stage1": self.stage1.to_json(),
            "stage2": self.stage2.to_json() if self.stage2 else None,
            "read_top": self.read_top,
            "calibration": list(self.calibration),
            "null_score": self.null_score,
            "threshold": self.threshold,
            "margin": self.margin,
            "none_threshold": self.none_tier,
            "span_min": None if self.span_min == float("-inf") else self.span_min,
            "calibrator": self.calibrator.to_json() if self.calibrator else None,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, d: dict) -> AnswerModel:
        return cls(
            stage1=MLP.from_json(d["stage1"]),
            stage2=MLP.from_json(d["stage2"]) if d.get("stage2") else None,
            read_top=int(d.get("read_top", 12)),
            calibration=tuple(float(v) for v in d.get("calibration", (1.0, 0.0))),
            null_score=float(d["null_score"]),
            threshold=float(d["threshold"]),
            margin=float(d["margin"]),
            meta=d.get("meta", {}),
            none_tier=d.get("none_threshold"),
            span_min=float("-inf") if d.get("span_min") is None else float(d["span_min"]),
            calibrator=Calibrator.from_json(d["calibrator"]) if d.get("calibrator") else None,
        )

    def save(self, path: Path = WEIGHTS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), separators=(",", ":")))
        tmp.replace(path)


def load_model(path: Path | None = None) -> AnswerModel:
    path = Path(path or WEIGHTS)
    try:
        model = AnswerModel.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise AnswererWeightsError(
            f"the answerer's weights ({path}) are missing: run `make train` to rebuild them"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AnswererWeightsError(
            f"the answerer's weights ({path}) cannot be read ({e}): run `make train`"
        ) from None
    if (
        model.stage1.features != FEATURES
        or (model.stage2 is not None and model.stage2.features != STAGE2_FEATURES)
        or (model.calibrator is not None and model.calibrator.features != CAL_FEATURES)
    ):
        raise AnswererWeightsError(
            f"the answerer's weights ({path}) were trained on other features: run `make train`"
        )
    return model
