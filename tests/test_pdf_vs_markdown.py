"""The same report indexed as a paginated PDF and as Markdown answers alike (issue 16).

SQuAD 2.0 dev articles (../shared/data/squad2, as evals/squad.py reads them) are the report
text: each article becomes a report in chapters of a few paragraphs, written once as Markdown
and once as a PDF with a running header, a page-number footer, a contents page with dot
leaders, bookmarks, hyphenated line ends and paragraphs across page breaks
(tests/fixtures/pdf/report.py). Both are indexed with the real model and asked every question
of the articles through ``ncpi_qa.evals.run.evaluate``; answer accuracy, abstention accuracy
and citation recall must agree within 0.03, and no cited quote may hold header or footer
text or a hard line break.

Figures for more articles or another layout (docs/pdf.md):
``.venv-test/bin/python tests/test_pdf_vs_markdown.py --articles 3 --layout official``
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad2"
PER_CHAPTER = 6
METRICS = ("answer_accuracy", "abstention_accuracy", "citation_recall", "citation_validity")


def _latin1(text: str) -> bool:  # the PDF's core fonts hold Latin-1 only
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def report_articles(n_articles: int, part: str = "report"):
    """The first ``n_articles`` of a SQuAD split part, keeping paragraphs a PDF core font
    can print (the same paragraphs go into both formats)."""
    from ncpi_qa.evals import squad

    articles = squad.select(squad.load_dev(SQUAD), part=part)[:n_articles]
    out = []
    for a in articles:
        paras = [p for p in a.paragraphs if _latin1(" ".join(p["context"].split()))]
        out.append(replace(a, paragraphs=paras))
    return out


def _chapters(article) -> list[tuple[str, list[str]]]:
    paras = [" ".join(p["context"].split()) for p in article.paragraphs]
    name = article.title.replace("_", " ")
    return [
        (f"{name}, part {k // PER_CHAPTER + 1}", paras[k : k + PER_CHAPTER])
        for k in range(0, len(paras), PER_CHAPTER)
    ]


def write_corpora(articles, folder: Path, layout: str) -> tuple[Path, Path, dict]:
    """(markdown corpus, pdf corpus, {doc name: what the PDF layout did})."""
    from ncpi_qa.evals.squad import doc_name

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.pdf.report import make_report

    md, pdf = folder / "md", folder / "pdf"
    md.mkdir(parents=True, exist_ok=True)
    pdf.mkdir(parents=True, exist_ok=True)
    made = {}
    for a in articles:
        title, chapters = a.title.replace("_", " "), _chapters(a)
        body = "\n\n".join(
            f"## {k + 1}. {name}\n\n" + "\n\n".join(paras)
            for k, (name, paras) in enumerate(chapters)
        )
        (md / f"{doc_name(a.title)}.md").write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
        made[doc_name(a.title)] = make_report(
            pdf / f"{doc_name(a.title)}.pdf", title, chapters, layout
        )
    return md, pdf, made


def _evaluate(corpus: Path, store: Path, rows, embedder):
    from ncpi_qa.evals.run import evaluate
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=corpus, store_dir=store)
    build_index(settings, embedder=embedder, log=lambda m: None)
    qa = QA(settings, embedder=embedder)
    ask, quotes = qa.ask, []

    def asked(*args, **kwargs):  # every quote the answers cite
        answer = ask(*args, **kwargs)
        quotes.extend(c.quote for c in answer.citations)
        return answer

    qa.ask = asked
    result = evaluate(qa, rows, log=lambda m: None)
    result["quotes"] = quotes
    return qa, result


def compare(
    n_articles: int, folder: Path, layout: str = "official", embedder=None, limit: int | None = None
) -> dict:
    """Index the articles both ways and score the same questions; the figures and the
    quotes that break the rules (furniture, a hard line break). ``limit``: a fixed sample of
    the questions (seed 0), as `ncpi-qa eval --limit` takes."""
    from ncpi_qa.evals import squad
    from ncpi_qa.index.embedding import get_embedder

    sys.path.insert(0, str(ROOT))
    from tests.fixtures.pdf.report import LAYOUTS

    embedder = embedder or get_embedder()
    articles = report_articles(n_articles)
    rows = squad.to_rows(articles, limit=limit, seed=0)
    md, pdf, made = write_corpora(articles, folder, layout)
    _, md_result = _evaluate(md, folder / "md-store", rows, embedder)
    qa, pdf_result = _evaluate(pdf, folder / "pdf-store", rows, embedder)
    spec, furniture = LAYOUTS[layout], set()
    for info in made.values():
        for n in range(1, info["pages"] + 1):
            furniture.update(spec.header(n, info["pages"], "") + spec.footer(n, info["pages"], ""))
    furniture = {f for f in furniture if not f.isdigit()}
    bad_quotes = [q for q in pdf_result["quotes"] if "\n" in q or any(f in q for f in furniture)]
    store = qa.store
    sentences = [store.documents[c.doc_id].text[s:e] for c in store.chunks for s, e in c.sentences]
    bad_sentences = [q for q in sentences if "\n" in q or any(f in q for f in furniture)]
    return {
        "layout": layout,
        "articles": [a.title for a in articles],
        "questions": len(rows),
        "pages": sum(i["pages"] for i in made.values()),
        "page_crossing_paragraphs": sum(len(i["page_crossing"]) for i in made.values()),
        "hyphenated_line_ends": sum(len(i["hyphenated"]) for i in made.values()),
        "markdown": {m: md_result[m] for m in METRICS},
        "pdf": {m: pdf_result[m] for m in METRICS},
        "support_not_found": {
            "markdown": len(md_result["support_not_found"]),
            "pdf": len(pdf_result["support_not_found"]),
        },
        "n_quotes": len(pdf_result["quotes"]),
        "bad_quotes": bad_quotes,
        "bad_sentences": bad_sentences,
        "n_sentences": len(sentences),
    }


@pytest.mark.slow
@pytest.mark.skipif(not SQUAD.is_dir(), reason=f"SQuAD 2.0 dev files not at {SQUAD}")
def test_report_pdf_answers_like_its_markdown(tmp_path, embedder):
    got = compare(1, tmp_path, "official", embedder, limit=150)
    assert got["page_crossing_paragraphs"] and got["hyphenated_line_ends"]
    assert got["bad_sentences"] == [] and got["bad_quotes"] == []
    assert got["support_not_found"]["pdf"] == got["support_not_found"]["markdown"]
    for m in ("answer_accuracy", "abstention_accuracy", "citation_recall"):
        assert abs(got["pdf"][m] - got["markdown"][m]) <= 0.03, (m, got)
    assert got["pdf"]["citation_validity"] == 1.0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=1)
    ap.add_argument("--layout", default="official")
    ap.add_argument("--limit", type=int, default=None, help="a fixed sample of the questions")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "pdf-vs-markdown")
    args = ap.parse_args()
    result = compare(args.articles, args.work / args.layout, args.layout, limit=args.limit)
    print(json.dumps(result, indent=2, ensure_ascii=False))
