"""evals/report.py: the terminal table and the self-contained HTML report, from a result scored
on hand-made records (no index, no model)."""

from __future__ import annotations

import re
from pathlib import Path

from ncpi_qa.evals.metrics import score_records
from ncpi_qa.evals.report import format_table, write_report

from .test_eval_metrics import CHUNKS, DOCS, _rows_and_records


def check_report(path: Path) -> str:
    """One self-contained page: four inline PNG plots, no scripts, no links out."""
    page = path.read_text(encoding="utf-8")
    # retrieval, latency, trade-off, scores and the tiers' risk-coverage curve
    assert page.count("<img") == 5
    assert re.findall(r'<img[^>]*src="([^"]{0,22})', page) == ["data:image/png;base64,"] * 5
    assert "Tiers: what each promises" in page
    assert not re.search(r"https?://", page)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    return page


def test_report_from_scored_records_escapes_what_it_quotes(tmp_path):
    rows, records = _rows_and_records()
    rows[1].question = "Custody <script>alert(1)</script>?"
    records[1]["answer"] = "Intro <b>line</b>."
    result = score_records(rows, records, DOCS, CHUNKS)
    page = check_report(write_report(result, tmp_path / "report"))
    assert "Custody &lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert "Intro &lt;b&gt;line&lt;/b&gt;." in page and "<b>line</b>" not in page
    assert "Failures (5)" in page and page.count("should_abstain") == 1
    assert re.search(r"answer_accuracy</td><td class=num>0\.333</td>", page)


def test_table_shows_each_metric_and_na_for_unmeasured():
    rows, records = _rows_and_records()
    table = format_table(score_records(rows, records, DOCS, CHUNKS))
    assert re.search(r"answer_accuracy\s.*0\.333", table)
    assert re.search(r"abstention_accuracy\s.*0\.500", table)
    empty = format_table(score_records(rows[3:4], records[3:4], DOCS, CHUNKS))
    assert re.search(r"answer_accuracy\s.*n/a", empty)
