"""The SQuAD 2.0 runner: articles as a corpus, questions in the eval format, the fixed split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals import squad
from ncpi_qa.ingest.documents import load_document
from ncpi_qa.ingest.text import normalize

TINY = Path(__file__).parent / "fixtures" / "squad" / "tiny-squad.json"


def test_rows_support_and_unanswerable():
    rows = {r.id: r for r in squad.to_rows(squad.load_squad(TINY))}
    assert set(rows) == {"lh1", "lh2", "lh3", "gb1", "gb2"}
    assert rows["lh1"].answers == ["1821"] and "built in 1821" in rows["lh1"].support
    # The support is the sentence holding the answer, not the paragraph.
    assert rows["lh2"].support == "Today it is a marina with 300 berths."
    assert rows["lh3"].unanswerable and rows["lh3"].answers == [] and rows["lh3"].support is None
    assert rows["gb1"].support.startswith("It was designed by the engineer Mara Quint")


def test_limit_is_a_fixed_sample():
    arts = squad.load_squad(TINY)
    a, b = squad.to_rows(arts, limit=3, seed=1), squad.to_rows(arts, limit=3, seed=1)
    assert [r.id for r in a] == [r.id for r in b] and len(a) == 3
    assert len(squad.to_rows(arts, limit=99)) == 5


def test_corpus_files_hold_each_article_and_its_support(tmp_path):
    arts = squad.load_squad(TINY)
    squad.write_corpus(arts, tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["glass-bridge.md", "lakeside-harbour.md"]
    doc = load_document(tmp_path / "lakeside-harbour.md")
    assert doc.title == "Lakeside Harbour"
    for r in squad.to_rows(arts):
        if r.support and r.id.startswith("lh"):
            assert normalize(r.support) in normalize(doc.text)


def test_split_is_fixed_and_disjoint():
    titles = [f"T{i}" for i in range(15)]
    s = squad.split_titles(titles)
    assert s == squad.split_titles(list(reversed(titles)))
    assert [len(s[p]) for p in squad.PARTS] == [6, 3, 6]
    assert not (set(s["fit"]) & set(s["calib"])) and not (set(s["calib"]) & set(s["report"]))
    assert set(s["fit"]) | set(s["calib"]) | set(s["report"]) == set(titles)


def test_select_and_bad_input(tmp_path):
    arts = squad.load_squad(TINY)
    assert [a.title for a in squad.select(arts, titles=["Glass_Bridge"])] == ["Glass_Bridge"]
    assert len(squad.select(arts, n_articles=1)) == 1
    with pytest.raises(DatasetError, match="no article titled Nope"):
        squad.select(arts, titles=["Nope"])
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"nope": 1}]}')
    with pytest.raises(DatasetError, match="not a SQuAD v2 JSON file"):
        squad.load_squad(bad)
    with pytest.raises(DatasetError, match="file not found"):
        squad.load_squad(tmp_path / "missing.json")


def test_scope_split_holds_out_whole_articles_as_out_of_scope():
    arts = squad.load_squad(TINY)
    indexed, held = squad.scope_split(arts)
    assert len(held) == 1 and len(indexed) == 1  # at least one held out once there are two
    assert {a.title for a in indexed} | {a.title for a in held} == {a.title for a in arts}
    assert squad.scope_split(list(reversed(arts)))[1][0].title == held[0].title  # by title
    assert squad.scope_split(arts[:1]) == (arts[:1], [])
    rows = squad.to_rows(indexed, oos=held)
    oos = [r for r in rows if r.kind == "oos"]
    n_held = sum(len(p["qas"]) for p in held[0].paragraphs)
    assert len(oos) == n_held and all(r.unanswerable and not r.answers for r in oos)
    assert {r.group for r in oos} == {held[0].title}
    assert {r.kind for r in rows if r.group == indexed[0].title} <= {"answerable", "unanswerable"}


@pytest.mark.slow
def test_cli_squad_runner_end_to_end(tmp_path):
    """`ncpi-qa eval --squad --no-oos`: a scratch index of both articles, HasAns/NoAns, valid
    citations."""
    proc = subprocess.run(
        [sys.executable, "-m", "ncpi_qa.apps.cli", "eval", "--squad", str(TINY), "--json",
         "--no-oos", "--work", str(tmp_path / "work"), "--report", str(tmp_path / "rep")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["n"] == 5 and r["n_answerable"] == 3 and r["n_unanswerable"] == 2
    assert r["HasAns_accuracy"] == r["answer_accuracy"] and "NoAns_accuracy" in r
    assert r["citation_validity"] == 1.0 and r["n_documents"] == 2
    assert r["support_not_found"] == []
    assert (tmp_path / "work" / "store" / "CURRENT").exists()
    assert (tmp_path / "rep" / "index.html").exists()
