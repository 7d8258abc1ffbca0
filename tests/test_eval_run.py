"""evals/run.py end to end: evaluate on a real (hashing-embedder) index, `ncpi-qa eval` with the
gate, and with the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ncpi_qa.evals import metrics
from ncpi_qa.evals.dataset import Row, load_dataset
from ncpi_qa.qa.reader import Reading

from .conftest import linear_model
from .test_eval_metrics import REQUIRED_KEYS
from .test_eval_report import check_report

ROOT = Path(__file__).resolve().parents[1]


class CountingReader:
    """Reads in order of appearance (first best); counts its calls."""

    def __init__(self):
        self.calls = 0

    def read(self, question, items):
        self.calls += 1
        return [Reading(float(v), None, float("-inf")) for v in np.linspace(1, 0, len(items))]


def test_evaluate_and_report_with_fake_embedder(tmp_path, fake_index, fake_embedder):
    """The whole harness on a real index built with the hashing embedder (no model); one
    question embedding and one reader call per question, however many figures it reports."""
    from ncpi_qa.evals.report import format_table, write_report
    from ncpi_qa.evals.run import evaluate
    from ncpi_qa.qa.pipeline import QA

    model = linear_model({"cov_sent": 6.0, "dense": 2.0}, stage2={"rd": 1.0, "cov_sent": 6.0})
    reader = CountingReader()
    qa = QA(fake_index, embedder=fake_embedder, model=model, reader=reader)
    configured = qa.model.threshold
    rows = load_dataset(ROOT / "evals" / "fixtures.jsonl")
    calls = fake_embedder.calls
    r = evaluate(qa, rows, log=lambda m: None)
    assert fake_embedder.calls - calls == len(rows) + 1  # + the warm-up
    assert reader.calls == len(rows)
    assert qa.model.threshold == configured  # the sweep changed nothing
    assert REQUIRED_KEYS <= set(r) and r["n"] == len(rows)
    assert set(r["retrieval"]) == {"bm25", "dense", "rrf", "hybrid"}
    assert r["citation_validity"] == 1.0
    assert "citation_page_accuracy" in r
    sweep = r["threshold_sweep"]
    assert sweep and sum(p["configured"] for p in sweep) == 1
    at_conf = next(p for p in sweep if p["configured"])
    assert at_conf["answer_accuracy"] == r["answer_accuracy"]
    assert at_conf["abstention_accuracy"] == r["abstention_accuracy"]
    json.dumps(r, allow_nan=False)
    assert "answer_accuracy" in format_table(r)
    check_report(write_report(r, tmp_path / "report"))
    from ncpi_qa.errors import NcpiError

    with pytest.raises(NcpiError, match="Question 'long' \\(dataset line 7\\) cannot be asked"):
        evaluate(qa, [Row("long", "why? " * 1000, ["x"], line=7)], log=lambda m: None)


@pytest.mark.parametrize(("minimum", "code"), [(0.0, 0), (1.01, 1)])
def test_main_prints_only_json_and_gates(
    tmp_path, fake_index, fake_embedder, simple_model, monkeypatch, capsys, minimum, code
):
    """--gate exits 1 exactly when a metric is under its minimum: every minimum set to 0 (all
    pass) and to 1.01 (all fail), so the expected code does not come from the output."""
    import ncpi_qa.index.embedding
    import ncpi_qa.qa.model
    from ncpi_qa.evals.run import EvalOptions, main

    monkeypatch.setattr(
        ncpi_qa.index.embedding, "get_query_embedder", lambda *a, **k: fake_embedder
    )
    monkeypatch.setattr(ncpi_qa.qa.model, "load_model", lambda *a, **k: simple_model)
    monkeypatch.setattr(metrics, "GATE", {key: minimum for key in metrics.GATE})
    settings = fake_index
    opts = EvalOptions(
        dataset=ROOT / "evals" / "fixtures.jsonl", json=True, report=tmp_path / "rep", gate=True
    )
    assert main(opts, settings) == code
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert REQUIRED_KEYS <= set(result)
    assert err.count("gate failed") == (len(metrics.GATE) if code else 0)
    assert ("gate passed" in err) == (code == 0)
    assert (tmp_path / "rep" / "index.html").exists()


def test_main_without_an_index_says_to_build_it(tmp_path, fixture_corpus):
    from ncpi_qa.errors import NoIndexError
    from ncpi_qa.evals.run import EvalOptions, main
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "nothing")
    opts = EvalOptions(dataset=ROOT / "evals" / "fixtures.jsonl", json=True)
    with pytest.raises(NoIndexError):
        main(opts, settings)


@pytest.mark.slow
def test_fixture_eval_with_real_model(fixture_qa, tmp_path):
    from ncpi_qa.evals.report import write_report
    from ncpi_qa.evals.run import evaluate

    rows = load_dataset(ROOT / "evals" / "fixtures.jsonl")
    r = evaluate(fixture_qa, rows, log=lambda m: None)
    assert r["citation_validity"] == 1.0
    assert r["citation_page_accuracy"] == 1.0
    assert r["support_not_found"] == []
    json.dumps(r, allow_nan=False)
    check_report(write_report(r, tmp_path / "report"))


@pytest.mark.slow
def test_cli_eval_json_prints_one_object(tmp_path):
    dev = [
        json.loads(line)
        for line in (ROOT / "evals" / "dev.jsonl").read_text().splitlines()
        if line.strip()
    ]
    picked = [
        dev[0],
        next(r for r in dev if r["id"] == "d30"),
        next(r for r in dev if r.get("unanswerable")),
    ]
    dataset = tmp_path / "three.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    import os

    env = dict(
        os.environ,
        NCPI_QA_CORPUS_DIR=str(ROOT / "corpus"),
        NCPI_QA_STORE_DIR=str(tmp_path / "store"),
    )
    cli = [sys.executable, "-m", "ncpi_qa.apps.cli"]
    built = subprocess.run([*cli, "index"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    proc = subprocess.run(
        [*cli, "eval", "--dataset", str(dataset), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert isinstance(result, dict) and proc.stdout.lstrip().startswith("{")
    assert REQUIRED_KEYS <= set(result)
    assert result["n"] == 3 and result["n_unanswerable"] == 1
    assert set(result["retrieval"]) == {"bm25", "dense", "rrf", "hybrid"}
    for m in result["retrieval"].values():
        assert set(m) == {"hit@1", "hit@3", "hit@5", "mrr"}
    assert set(result["latency_ms"]) >= {"p50", "p95"}
    assert isinstance(result["failures"], list)


def test_the_command_line_hands_eval_typed_options(monkeypatch):
    from ncpi_qa.apps import cli
    from ncpi_qa.evals.run import EvalOptions

    seen = []
    monkeypatch.setattr("ncpi_qa.evals.run.main", lambda opts, settings: seen.append(opts) or 0)
    argv = ["eval", "--squad", "sq", "--part", "report", "--titles", "A", "B", "--limit", "3"]
    assert cli.main([*argv, "--seed", "2", "--json", "--gate", "--work", "w"]) == 0
    assert seen == [
        EvalOptions(
            squad=Path("sq"),
            part="report",
            titles=("A", "B"),
            limit=3,
            seed=2,
            json=True,
            gate=True,
            work=Path("w"),
        )
    ]
