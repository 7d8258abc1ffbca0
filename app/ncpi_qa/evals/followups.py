"""The follow-up set: pairs of questions, the second leaning on the first, scored three ways.

One JSON object per line::

    {"id": "sq16", "first": "Who established the Yuan dynasty?",
     "followup": "When did he officially proclaim it?",
     "full": "When did Kublai Khan officially proclaim the Yuan dynasty?",
     "answers": ["1271"], "support": "... Kublai Khan officially proclaimed the dynasty ..."}

``full`` is the follow-up written out in full (the pronoun replaced by what it stands for).
A row whose ``followup`` equals ``full`` is a *standalone* control: a question that does not
lean on the first one, which must be answered exactly as without history.

For each row: ``first`` is asked; ``followup`` is asked with ``history=[that Answer]`` (the way
every caller asks: CLI, chat, Python, llama-index); ``full`` is asked with no history; and the
bare ``followup`` with no history, to show what the context adds. Each is right when it
answers (does not decline) and the answer holds a gold answer; "quoting" is the same with
the answerer made to quote its best sentence whatever its confidence (threshold -inf on the
same candidates), which shows the ranking apart from the decision to answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals.dataset import json_lines
from ncpi_qa.evals.metrics import answer_correct, citation_supports, locate_support

FIELDS = ("id", "first", "followup", "full", "answers", "support")
WAYS = ("followup", "full", "bare")
METRICS = (
    ("accuracy", "correct"),
    ("quoting_accuracy", "quoting_correct"),
    ("citation_recall", "cites_support"),
)
# `ncpi-qa eval --followups FILE --gate`: the follow-up is answered within 0.03 of the same
# question written out in full (the must-show), and the standalone controls unchanged.
FOLLOWUP_GATE = {"followup_minus_full": -0.03, "standalone_unchanged": 1.0}


@dataclass
class Pair:
    id: str
    first: str
    followup: str
    full: str
    answers: list[str]
    support: str | None = None
    line: int = 0

    @property
    def standalone(self) -> bool:
        return self.followup.strip() == self.full.strip()


def load_followups(path: Path) -> list[Pair]:
    path = Path(path)
    pairs, seen = [], set()
    for n, obj in json_lines(path):
        if not isinstance(obj, dict):
            raise DatasetError(path, f"line {n}: expected a JSON object")
        unknown = sorted(set(obj) - set(FIELDS))
        if unknown:
            raise DatasetError(path, f"line {n}: unknown field(s) {', '.join(unknown)}")
        for key in ("id", "first", "followup", "full"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise DatasetError(path, f"line {n}: '{key}' must be a non-empty string")
        answers = obj.get("answers")
        if (
            not isinstance(answers, list)
            or not answers
            or not all(isinstance(a, str) and a.strip() for a in answers)
        ):
            raise DatasetError(path, f"line {n}: 'answers' must be a non-empty list of strings")
        if obj["id"] in seen:
            raise DatasetError(path, f"line {n}: duplicate id '{obj['id']}'")
        seen.add(obj["id"])
        pairs.append(
            Pair(
                obj["id"],
                obj["first"],
                obj["followup"],
                obj["full"],
                answers,
                obj.get("support"),
                n,
            )
        )
    if not pairs:
        raise DatasetError(path, "it holds no pairs (one JSON object per line)")
    return pairs


def _outcome(qa, answer, pair: Pair, spans, chunks_by_id) -> dict:
    from ncpi_qa.qa.question import analyse

    right = not answer.abstained and answer_correct(answer.text, pair.answers)
    text, _, cites = qa.answerer.decide(
        analyse(answer.question), answer.candidates, float("inf"), threshold=float("-inf")
    )  # forced to answer: how often the quoted sentence is right
    cited = [c.to_dict() for c in answer.citations]
    return {
        "answer": answer.text,
        "abstained": answer.abstained,
        "correct": bool(right),
        "quoting_correct": bool(cites) and answer_correct(text, pair.answers),
        "cites_support": any(citation_supports(c, spans, chunks_by_id) for c in cited),
        "best_score": None if answer.best_score is None else round(answer.best_score, 4),
        "latency_ms": answer.timings_ms.get("total"),
        "context": None if answer.context is None else answer.context.model_dump(),
    }


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate_followups(qa, pairs: list[Pair], log=None) -> dict:
    """Ask every pair the three ways and score them (see the module docstring). That the
    chat's own turns give the same answers is a test of the chat (tests/test_followup.py),
    not of the answerer, so the evals import nothing of the chat."""
    log = log or (lambda m: None)
    docs, chunks_by_id = qa.store.documents, {c.chunk_id: c for c in qa.store.chunks}
    qa.embed("warm-up")
    per, t0 = [], time.perf_counter()
    for i, pair in enumerate(pairs, start=1):
        spans = locate_support(pair.support, docs)
        first = qa.ask(pair.first)
        row = {"id": pair.id, "standalone": pair.standalone, "first_answered": not first.abstained}
        asked = {
            "followup": qa.ask(pair.followup, history=[first]),
            "full": qa.ask(pair.full),
            "bare": qa.ask(pair.followup),
        }
        for way, answer in asked.items():
            row[way] = _outcome(qa, answer, pair, spans, chunks_by_id)
        row["leaned"] = asked["followup"].context is not None
        row["same_as_full"] = asked["followup"].text == asked["full"].text
        per.append(row)
        if i % 10 == 0 or i == len(pairs):
            log(f"follow-ups: {i}/{len(pairs)} pairs ({time.perf_counter() - t0:.1f}s)")
    leaning = [r for r in per if not r["standalone"]]
    controls = [r for r in per if r["standalone"]]
    out: dict = {"n_pairs": len(leaning), "n_standalone": len(controls)}
    for way in WAYS:
        for metric, key in METRICS:
            out[f"{way}_{metric}"] = _ratio(sum(r[way][key] for r in leaning), len(leaning))
    for metric in ("accuracy", "quoting_accuracy", "citation_recall"):
        a, b = out[f"followup_{metric}"], out[f"full_{metric}"]
        out[f"followup_minus_full{'' if metric == 'accuracy' else '_' + metric}"] = (
            None if a is None or b is None else round(a - b, 4)
        )
    out["detected_followups"] = _ratio(sum(r["leaned"] for r in leaning), len(leaning))
    out["standalone_unchanged"] = _ratio(
        sum(r["same_as_full"] and not r["leaned"] for r in controls), len(controls)
    )
    out["first_answered"] = _ratio(sum(r["first_answered"] for r in per), len(per))
    lat = sorted(r["followup"]["latency_ms"] for r in leaning if r["followup"]["latency_ms"])
    out["followup_latency_p50_ms"] = lat[len(lat) // 2] if lat else None
    out["threshold"] = float(qa.answerer.threshold)
    out["weights"] = dict(vars(qa.followup)) if hasattr(qa, "followup") else None
    out["per_pair"] = per
    return out


def _cells(values, signed: bool = False) -> str:
    out = ""
    for v, width in zip(values, (16, 10, 15), strict=True):
        text = "-" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")
        out += f"{text:>{width}}"
    return out


def format_followups(result: dict) -> str:
    """The follow-up figures as a plain-text table."""
    metrics = ("accuracy", "quoting_accuracy", "citation_recall")
    lines = [
        f"Follow-up set: {result.get('dataset', '')}",
        f"{result['n_pairs']} follow-up pairs, {result['n_standalone']} standalone controls; "
        f"threshold {result['threshold']:.3f}",
        "",
        f"{'':34}{'answered right':>16}{'quoting':>10}{'cites support':>15}",
    ]
    names = {
        "followup": "follow-up, after its question",
        "full": "written out in full",
        "bare": "follow-up alone (no history)",
    }
    for way in WAYS:
        lines.append(f"{names[way]:34}" + _cells([result[f"{way}_{m}"] for m in metrics]))
    diffs = ["followup_minus_full"] + [f"followup_minus_full_{m}" for m in metrics[1:]]
    lines.append(f"{'follow-up minus written out':34}" + _cells([result[k] for k in diffs], True))
    lines += [
        "",
        f"follow-ups detected as leaning on history: {result['detected_followups']}",
        f"standalone questions answered as without history: {result['standalone_unchanged']}",
        f"follow-up latency p50: {result['followup_latency_p50_ms']} ms",
    ]
    leaning = [r for r in result["per_pair"] if not r["standalone"]]
    lost = [r["id"] for r in leaning if r["full"]["correct"] and not r["followup"]["correct"]]
    if lost:
        lines.append(f"right written out, wrong as a follow-up: {', '.join(lost)}")
    return "\n".join(lines)
