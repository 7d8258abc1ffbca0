"""SQuAD 2.0 as a document-QA benchmark: one document per article, every question asked
against all the articles indexed together.

A question is answered right when the answer holds one of the gold answers and cites the
sentence holding the first gold answer (its ``support``); an unanswerable question is
answered right when the bot declines. The dev articles are split by title into three fixed
parts: ``fit`` (training, with the train file), ``calib`` (the abstention threshold) and
``report`` (the figures) — see ``SPLIT``. SQuAD 2.0 is CC BY-SA 4.0 (Rajpurkar, Jia & Liang).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.errors import DatasetError
from ncpi_qa.evals.dataset import Row
from ncpi_qa.ingest.text import sentence_spans

# Dev articles by the first hex digit of sha1(title), in sorted order: the first 6 fit, the
# next 3 calibrate, the last 6 report. Fixed here so every run uses the same parts.
PARTS = ("fit", "calib", "report")


def split_titles(titles: list[str]) -> dict[str, list[str]]:
    order = sorted(titles, key=lambda t: hashlib.sha1(t.encode()).hexdigest())
    n = len(order)
    n_fit, n_cal = round(n * 0.4), round(n * 0.2)
    return {
        "fit": sorted(order[:n_fit]),
        "calib": sorted(order[n_fit : n_fit + n_cal]),
        "report": sorted(order[n_fit + n_cal :]),
    }


@dataclass
class Article:
    title: str
    paragraphs: list[dict]


def load_squad(path: Path) -> list[Article]:
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                data = json.load(f)
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
        return [Article(a["title"], a["paragraphs"]) for a in data["data"]]
    except FileNotFoundError:
        raise DatasetError(path, "file not found") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(path, f"not a SQuAD v2 JSON file ({type(e).__name__}: {e})") from None


DEV_FILES = ("dev-v2.0-15-articles.json", "dev-v2.0-10-more-articles.json.gz")


def load_dev(folder: Path) -> list[Article]:
    """All the SQuAD 2.0 dev articles in ``folder`` (the 15 and the 10 more that are there)."""
    found = [Path(folder) / f for f in DEV_FILES if (Path(folder) / f).exists()]
    if not found:
        raise DatasetError(Path(folder), f"none of {', '.join(DEV_FILES)} found")
    return [a for f in found for a in load_squad(f)]


def select(
    articles: list[Article],
    part: str | None = None,
    titles: list[str] | None = None,
    n_articles: int | None = None,
) -> list[Article]:
    """Articles of one split part, or named by title, or the first ``n_articles``."""
    if part:
        if part not in PARTS:
            raise DatasetError(Path(part), f"unknown part; choose one of {', '.join(PARTS)}")
        keep = set(split_titles([a.title for a in articles])[part])
        articles = [a for a in articles if a.title in keep]
    if titles:
        unknown = sorted(set(titles) - {a.title for a in articles})
        if unknown:
            raise DatasetError(Path("--titles"), f"no article titled {', '.join(unknown)}")
        articles = [a for a in articles if a.title in set(titles)]
    return articles[:n_articles] if n_articles else articles


def doc_name(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "article"


def write_corpus(articles: list[Article], folder: Path) -> Path:
    """One Markdown file per article: its title as the heading, then its paragraphs in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for a in articles:
        body = "\n\n".join(" ".join(p["context"].split()) for p in a.paragraphs)
        (folder / f"{doc_name(a.title)}.md").write_text(
            f"# {a.title.replace('_', ' ')}\n\n{body}\n", encoding="utf-8"
        )
    return folder


OOS_SHARE = 0.2


def scope_split(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    """(indexed, held out): the last fifth of the articles by sha1(title) stay out of the
    index, and their questions are asked as out of scope (the documents cannot answer them)."""
    order = sorted(articles, key=lambda a: hashlib.sha1(a.title.encode()).hexdigest())
    n_out = max(1, round(len(order) * OOS_SHARE)) if len(order) > 1 else 0
    cut = len(order) - n_out
    return sorted(order[:cut], key=articles.index), sorted(order[cut:], key=articles.index)


def _support(context: str, answer_start: int) -> str:
    for s, e in sentence_spans(context):
        if s <= answer_start < e:
            return context[s:e]
    return context


def to_rows(
    articles: list[Article], limit: int | None = None, seed: int = 0, oos: list[Article] = ()
) -> list[Row]:
    """Questions in the eval format; ``oos``: articles (not indexed) whose every question is
    asked as out of scope; ``limit`` takes a fixed random sample (by ``seed``)."""
    rows = _rows(articles)
    for r in _rows(oos):
        rows.append(Row(r.id, r.question, [], unanswerable=True, kind="oos", group=r.group))
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def _rows(articles: list[Article]) -> list[Row]:
    rows = []
    for a in articles:
        for p in a.paragraphs:
            context = " ".join(p["context"].split())
            for q in p["qas"]:
                question = " ".join(q["question"].split())
                if not question:
                    continue
                if q.get("is_impossible"):
                    rows.append(
                        Row(
                            q["id"],
                            question,
                            [],
                            unanswerable=True,
                            kind="unanswerable",
                            group=a.title,
                        )
                    )
                    continue
                answers = list(dict.fromkeys(x["text"].strip() for x in q["answers"]))
                answers = [x for x in answers if x]
                if not answers:
                    continue
                first = q["answers"][0]
                # Offsets into the whitespace-normalised context.
                start = len(" ".join(p["context"][: first["answer_start"]].split()))
                start += 1 if p["context"][: first["answer_start"]][-1:].isspace() else 0
                support = _support(context, start)
                rows.append(
                    Row(
                        q["id"],
                        question,
                        answers,
                        support=support,
                        kind="answerable",
                        group=a.title,
                    )
                )
    return rows


def build_store(articles: list[Article], folder: Path, settings, embedder=None, log=None):
    """Index the articles as a corpus under ``folder`` (corpus/ and store/); returns the
    settings that point at it. Re-running reuses the vectors of unchanged articles."""
    from ncpi_qa.index.store import build_index

    corpus = folder / "corpus"
    if corpus.exists():
        for old in corpus.glob("*.md"):
            old.unlink()
    write_corpus(articles, corpus)
    s = settings.model_copy(
        update={
            "corpus_dir": corpus,
            "store_dir": folder / "store",
            # on Milvus, a scratch index of its own beside the live one, never over it
            "milvus_collection_prefix": f"{settings.milvus_collection_prefix}_squad",
        }
    )
    report = build_index(s, embedder=embedder, log=log)
    if log and not report.up_to_date:
        log(report.summary())
    return s
