"""The calibrator for selective answering (Kamath, Jia & Liang, ACL 2020): from what the
answerer saw of one question, two probabilities:

- ``right``: P(the answer tier's answer is right) — the best sentence holds the answer of an
  answerable question. The answer tier's threshold is fitted on it for precision.
- ``relevant``: P(the documents are on the question's topic) — an answerable question or a
  look-alike, not an out-of-scope one. The none tier's threshold is fitted on it.

Its features are the question's, not one candidate's: the stage-2 answer logit (the softmax
over [no answer, candidates]) and its margin, how many candidates were read, and the best
candidate's whole stage-2 row (its retrieval ranks and similarities, the question's content
words, numbers and names found in it and in its neighbours, the asked type against what it
holds, the reader's sentence and span logits and their margins). Two L2-regularised logistic
regressions on standardised features, fitted out of fold on SQuAD articles and on policy pages
(tools/train/train_answerer.py); numpy only at inference, stored in the answerer's weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ncpi_qa.qa.features import STAGE2_FEATURES

QUESTION_FEATURES = ("answer_logit", "top_margin", "n_read")
CAL_FEATURES = QUESTION_FEATURES + tuple(f"best_{f}" for f in STAGE2_FEATURES)


def question_features(answer_logit: float, logits: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """The calibrator's input for one question: ``logits`` the read candidates' stage-2
    logits, ``x2`` their stage-2 feature rows (answerer.stage2_features)."""
    if not len(logits):
        return np.zeros(len(CAL_FEATURES), dtype=np.float32)
    order = np.argsort(-logits, kind="stable")
    margin = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 10.0
    head = np.array([answer_logit, min(margin, 10.0), float(len(logits))], dtype=np.float32)
    return np.concatenate([head, x2[order[0]].astype(np.float32)])


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, l2: float = 1.0):
    """(weights, bias) of an L2-regularised logistic regression (Newton's method) on
    standardised ``x``; ``w``: per-example weights."""
    n, d = x.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(100):
        p = _sigmoid(xb @ beta)
        g = xb.T @ (w * (p - y)) + reg * beta
        h = (xb * (w * p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta[:-1].astype(np.float32), float(beta[-1])


@dataclass
class Calibrator:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    right: tuple[np.ndarray, float]
    relevant: tuple[np.ndarray, float]
    # what the none tier's threshold is on: "relevance", or "confidence" (P(right) itself)
    # when that put fewer answerable questions in the none tier out of fold
    none_on: str = "relevance"

    def predict(self, f: np.ndarray) -> tuple[float, float]:
        """(P(right), the score the none tier's threshold is on) for one question."""
        z = (np.asarray(f, dtype=np.float32) - self.mean) / self.scale
        (wr, br), (wv, bv) = self.right, self.relevant
        p = float(_sigmoid(z @ wr + br))
        return p, (p if self.none_on == "confidence" else float(_sigmoid(z @ wv + bv)))

    @classmethod
    def fit(cls, x: np.ndarray, right: np.ndarray, relevant: np.ndarray, w=None, l2=1.0):
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        z = (x - mean) / scale
        return cls(
            CAL_FEATURES,
            mean.astype(np.float32),
            scale.astype(np.float32),
            fit_logistic(z, right.astype(float), w, l2),
            fit_logistic(z, relevant.astype(float), w, l2),
        )

    def to_json(self) -> dict:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "right": {"w": self.right[0].tolist(), "b": self.right[1]},
            "relevant": {"w": self.relevant[0].tolist(), "b": self.relevant[1]},
            "none_on": self.none_on,
        }

    @classmethod
    def from_json(cls, d: dict) -> Calibrator:
        def lr(k):
            return np.asarray(d[k]["w"], dtype=np.float32), float(d[k]["b"])

        return cls(
            tuple(d["features"]),
            np.asarray(d["mean"], dtype=np.float32),
            np.asarray(d["scale"], dtype=np.float32),
            lr("right"),
            lr("relevant"),
            d.get("none_on", "relevance"),
        )
