"""evals/dataset.py: the gold question format (validation with line numbers), and the shipped
datasets' consistency with the documents they are about."""

from __future__ import annotations

from pathlib import Path

import pytest

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals.dataset import load_dataset
from ncpi_qa.evals.metrics import locate_support

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"id": "a", "question": "Q?", "answers": ["x"]}', "{not json"], "line 2: invalid JSON"),
        (['["a list"]'], "line 1: expected a JSON object"),
        (['{"question": "Q?", "answers": ["x"]}'], "line 1: 'id' is required"),
        (['{"id": "a", "question": "  ", "answers": ["x"]}'], "line 1: 'question' is required"),
        (['{"id": "a", "question": "Q?"}'], "line 1: 'answers' is required"),
        (['{"id": "a", "question": "Q?", "answers": "x"}'], "'answers' must be a list"),
        (['{"id": "a", "question": "Q?", "answers": ["x"], "all_of": [1]}'], "'all_of' must be"),
        (['{"id": "a", "question": "Q?", "answers": []}'], "line 1: 'answers' is empty"),
        (
            ['{"id": "a", "question": "Q?", "answers": ["x"], "unanswerable": true}'],
            "unanswerable question must have empty",
        ),
        (
            ['{"id": "a", "question": "Q?", "answers": [], "unanswerable": "yes"}'],
            "'unanswerable' must be true or false",
        ),
        (
            ['{"id": "a", "question": "Q?", "answers": ["x"], "support": "s", "page": 0}'],
            "'page' must be a positive integer",
        ),
        (
            ['{"id": "a", "question": "Q?", "answers": ["x"], "page": 2}'],
            "'page' needs a 'support'",
        ),
        (
            ['{"id": "a", "question": "Q?", "answers": ["x"], "suport": "s"}'],
            "unknown field(s) suport",
        ),
        (
            [
                '{"id": "a", "question": "Q?", "answers": ["x"]}',
                "",
                '{"id": "a", "question": "R?", "answers": ["y"]}',
            ],
            "line 3: duplicate id 'a' (first on line 1)",
        ),
        (["", "   "], "no questions"),
    ],
)
def test_dataset_validation_errors(tmp_path, lines, message):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError) as exc:
        load_dataset(path)
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_dataset_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "nope.jsonl")


def test_dataset_parses_optional_fields(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q?", "answers": ["x"], "all_of": ["y"], "support": "s", '
        '"page": 3}\n\n{"id": "b", "question": "R?", "answers": [], "unanswerable": true}\n',
        encoding="utf-8",
    )
    a, b = load_dataset(path)
    assert (a.all_of, a.support, a.page, a.unanswerable, a.line) == (["y"], "s", 3, False, 1)
    assert (b.answers, b.unanswerable, b.line) == ([], True, 3)


def _load_corpus(folder: Path) -> dict:
    from ncpi_qa.ingest.documents import assign_ids, corpus_files, load_document

    files = corpus_files(folder)
    ids = assign_ids(files, folder)
    return {ids[p]: load_document(p, ids[p], p.read_bytes()) for p in files}


@pytest.mark.parametrize(
    "dataset, corpus",
    [
        ("evals/dev.jsonl", "corpus"),
        ("evals/fixtures.jsonl", "tests/fixtures/corpus"),
    ],
)
def test_shipped_datasets_are_consistent(dataset, corpus):
    """Each support is verbatim in exactly one document, holds the gold answers, and a
    'page' is the page the support starts on."""
    from ncpi_qa.ingest.text import normalize

    rows = load_dataset(ROOT / dataset)
    docs = _load_corpus(ROOT / corpus)
    assert any(r.unanswerable for r in rows) and any(not r.unanswerable for r in rows)
    for r in rows:
        if r.support is None:
            continue
        spans = locate_support(r.support, docs)
        assert len(spans) == 1, r.id
        doc_id, s, e = spans[0]
        assert docs[doc_id].text[s:e] == r.support, r.id
        assert all(normalize(a) in normalize(r.support) for a in r.answers + r.all_of), r.id
        if r.page is not None:
            assert docs[doc_id].page_at(s) == r.page, r.id


def test_fixture_dataset_covers_pdf_pages_2_and_3():
    rows = load_dataset(ROOT / "evals" / "fixtures.jsonl")
    assert {2, 3} <= {r.page for r in rows}
    assert sum(r.unanswerable for r in rows) >= 2
