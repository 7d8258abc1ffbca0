"""The gold question format (JSONL): one question per line, validated with line numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ncpi_qa.errors import DatasetError

FIELDS = ("id", "question", "answers", "all_of", "support", "unanswerable", "page")


@dataclass
class Row:
    id: str
    question: str
    answers: list[str]
    all_of: list[str] = field(default_factory=list)
    support: str | None = None
    unanswerable: bool = False
    page: int | None = None
    line: int = 0
    kind: str = ""  # SQuAD rows: "answerable", "unanswerable" (a look-alike) or "oos"
    group: str = ""  # SQuAD rows: the article the question was written on


def _str_list(obj: dict, key: str, bad) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
        raise bad(f"'{key}' must be a list of non-empty strings")
    return value


def parse_row(obj, line: int, path) -> Row:
    """One dataset line as a Row; a DatasetError names the line and what is wrong."""

    def bad(msg: str) -> DatasetError:
        return DatasetError(path, f"line {line}: {msg}")

    if not isinstance(obj, dict):
        raise bad("expected a JSON object")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    for key in ("id", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise bad(f"'{key}' is required and must be a non-empty string")
    if "answers" not in obj:
        raise bad("'answers' is required (a list; empty for unanswerable questions)")
    answers, all_of = _str_list(obj, "answers", bad), _str_list(obj, "all_of", bad)
    support = obj.get("support")
    if support is not None and (not isinstance(support, str) or not support.strip()):
        raise bad("'support' must be a non-empty string (a verbatim quote)")
    unanswerable = obj.get("unanswerable", False)
    if not isinstance(unanswerable, bool):
        raise bad("'unanswerable' must be true or false")
    page = obj.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise bad("'page' must be a positive integer (the PDF page of the support)")
    if unanswerable and (answers or all_of or support or page):
        raise bad(
            "an unanswerable question must have empty 'answers' and no "
            "'all_of', 'support' or 'page'"
        )
    if not unanswerable and not answers:
        raise bad("'answers' is empty; give at least one answer or set \"unanswerable\": true")
    if page is not None and support is None:
        raise bad("'page' needs a 'support' quote (it is the page of that quote)")
    return Row(obj["id"], obj["question"], answers, all_of, support, unanswerable, page, line)


def json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line of a JSON-lines file; DatasetError
    naming the file (and the line) when it cannot be read or a line is not JSON."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DatasetError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(path, f"{type(e).__name__}: {e}") from None
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield n, json.loads(text)
        except json.JSONDecodeError as e:
            raise DatasetError(
                path, f"line {n}: invalid JSON ({e.msg} at column {e.colno})"
            ) from None


def load_dataset(path: Path) -> list[Row]:
    path = Path(path)
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for n, obj in json_lines(path):
        row = parse_row(obj, n, path)
        if row.id in seen:
            raise DatasetError(
                path, f"line {n}: duplicate id '{row.id}' (first on line {seen[row.id]})"
            )
        seen[row.id] = n
        rows.append(row)
    if not rows:
        raise DatasetError(path, "it holds no questions (one JSON object per line)")
    return rows
