"""Report PDFs read as a person reads them: running headers, footers and page numbers out,
paragraphs whole across page breaks, line-end hyphens joined only where they break a word,
no hard line breaks in a sentence, headings and contents lines never sentences (issue 16).

The PDFs are made here (tests/fixtures/pdf/report.py) in several layouts, so the test knows
every paragraph's text and pages."""

from __future__ import annotations

import random
import re

import pytest

from ncpi_qa.ingest.chunking import chunk_document
from ncpi_qa.ingest.documents import load_document
from ncpi_qa.ingest.pdf_lines import Line, furniture
from ncpi_qa.ingest.text import dehyphenate, is_toc_line, normalize, sentence_spans

from .fixtures.pdf.report import LAYOUTS, make_report

WORDS = (
    "the inspectors found that officers recorded each referral promptly and the force "
    "worked with partners to protect vulnerable children across the county during the year "
    "safeguarding accountability responsibilities investigations organisations "
    "neighbourhood commissioning understanding supervision arrangements consistently "
    "multi-agency child-centred well-being decision-making co-ordinated"
).split()
CHAPTERS = ["Context and scope", "Early help", "Custody and detention", "Leadership"]


def _paragraphs(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = [rng.choice(WORDS) for _ in range(rng.randint(8, 22))]
            words.insert(rng.randrange(len(words)), str(rng.randint(2, 2019)))
            sentences.append(" ".join(words).capitalize() + ".")
        out.append(" ".join(sentences))
    return out


def _report(tmp_path, layout: str, seed: int = 1):
    rng = random.Random(seed)
    chapters = [(name, _paragraphs(rng, 7)) for name in CHAPTERS]
    path = tmp_path / f"{layout}.pdf"
    made = make_report(path, "Riverside thematic inspection", chapters, layout, seed=seed)
    paragraphs = [p for _, paras in chapters for p in paras]
    return load_document(path), made, paragraphs


def _furniture_strings(layout: str, n_pages: int) -> set[str]:
    spec, out = LAYOUTS[layout], set()
    for n in range(1, n_pages + 1):
        for ch in CHAPTERS:
            out.update(spec.header(n, n_pages, ch) + spec.footer(n, n_pages, ch))
    return {s for s in out if not s.isdigit()}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_paragraphs_whole_furniture_out_pages_exact(tmp_path, layout):
    doc, made, paragraphs = _report(tmp_path, layout)
    assert made["page_crossing"], "the layout should put paragraphs across page breaks"
    assert made["hyphenated"], "the layout should hyphenate some line ends"
    text = doc.text
    for s in _furniture_strings(layout, made["pages"]):
        assert s not in text, f"furniture {s!r} left in the text"
    blocks = text.split("\n\n")
    gap = LAYOUTS[layout].paragraph_gap > 0
    for k, para in enumerate(paragraphs):
        # Whole, word for word (no furniture inside, hyphens right, no line breaks). With no
        # space between paragraphs, one whose last line is nearly full may run into the next.
        whole = para in blocks if gap else any(para in b for b in blocks)
        if not whole and k in made["page_crossing"]:  # cut at a sentence's end on the break
            whole = para in text.replace(".\n\n", ". ")
        assert whole, f"paragraph {k} not whole: {para[:60]!r}"
        start = text.index(para)
        first, last = made["para_pages"][k]
        assert doc.page_at(start) == first
        assert doc.page_at(start + len(para) - 1) == last
    assert [p[2] for p in doc.pages] == sorted({p[2] for p in doc.pages})


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_sentences_and_chunks_hold_no_furniture_headings_or_contents(tmp_path, layout):
    doc, made, paragraphs = _report(tmp_path, layout, seed=2)
    furniture_text = _furniture_strings(layout, made["pages"])
    headings = {h.text for h in doc.headings}
    chunks = chunk_document(doc)
    sentences = [doc.text[s:e] for c in chunks for s, e in c.sentences]
    assert sentences
    for q in sentences:
        assert "\n" not in q, f"hard line break in {q!r}"
        assert not any(f in q for f in furniture_text)
        assert q not in headings and not is_toc_line(q)
        assert not re.search(r"\.{4,}", q)
    for c in chunks:  # every chunk is body text of one chapter
        assert c.section in {f"{k + 1}. {name}" for k, name in enumerate(CHAPTERS)}
    # A sentence that runs over a page break is one sentence, and the chunk holding it starts
    # on the first page.
    k = made["page_crossing"][0]
    start = doc.text.index(paragraphs[k])
    para_spans = sentence_spans(doc.text, start, start + len(paragraphs[k]))
    assert [doc.text[s:e] for s, e in para_spans] == [
        doc.text[s:e]
        for c in chunks
        for s, e in c.sentences
        if start <= s < start + len(paragraphs[k])
    ]


def test_bookmarks_and_contents(tmp_path):
    doc, made, _ = _report(tmp_path, "official")
    chapters = [f"{k + 1}. {name}" for k, name in enumerate(CHAPTERS)]
    assert [h.text for h in doc.headings if h.text in chapters] == chapters
    for h in doc.headings:
        assert doc.text[h.start : h.end] == h.text
        if h.text in chapters:
            assert h.level == 1 and doc.page_at(h.start) == made["starts"][chapters.index(h.text)]
    contents = doc.text[doc.text.index("Contents") :].split("\n\n")[1]
    assert contents.count("\n") == len(CHAPTERS) - 1 and all(
        is_toc_line(line) for line in contents.split("\n")
    )
    assert not any("...." in c.text for c in chunk_document(doc))


def test_hyphenation_joined_only_where_it_breaks_a_word(tmp_path):
    doc, made, _ = _report(tmp_path, "even-header", seed=3)
    words = set(re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", doc.text))
    broken = [(a, b) for a, b, compound in made["hyphenated"] if not compound]
    kept = [(a, b) for a, b, compound in made["hyphenated"] if compound]
    assert broken and kept
    for a, b in broken:
        assert re.match(r"[A-Za-z]+", a[:-1] + b).group(0) in words
    for a, b in kept:
        assert re.match(r"[A-Za-z]+-[A-Za-z]+", a + b).group(0) in words


def test_dehyphenate_decides_from_the_documents_words():
    vocab = {"child": 3, "centred": 2, "safeguarding": 1, "well": 4, "being": 2, "agency": 2}
    assert dehyphenate("safe", "guarding", vocab)  # the joined word is in the document
    assert dehyphenate("inspec", "tions", vocab)  # "tions" is no word: a broken word
    assert not dehyphenate("child", "centred", vocab)  # two words of the document
    assert not dehyphenate("multi", "agency", vocab)  # a hyphen prefix before a word
    assert not dehyphenate("post", "Brexit", {})  # a capital after the hyphen
    assert not dehyphenate("co", "operate", {}, compounds={"co-operate"})
    assert not dehyphenate("self", "determination", {})  # a prefix that keeps its hyphen
    assert not dehyphenate("re", "evaporation", {})  # a doubled vowel after a prefix
    assert dehyphenate("inter", "faces", {})  # "faces" is no word of this document
    assert not dehyphenate("long", "lived", {"long": 2, "live": 1})  # a known word's stem


def _page(lines):
    return [Line(t, y, 10.0, False) for t, y in lines]


def test_furniture_is_what_repeats_at_the_page_edges_whatever_its_wording():
    pages = []
    for n in range(1, 9):
        body = [(f"Body line {n} about subject {n * 7} in some detail and more words here.", 700)]
        body += [(f"A second line of page {n}, different each time {n * 13}.", 680)]
        header = [("Annual report 2026 | OFFICIAL", 800)] if n % 2 == 0 else []
        footer = [(f"- {n} -", 30)] if n > 1 else []
        pages.append(_page(header + body + footer))
    found = furniture(pages, 10.0)
    for n, (lines, idx) in enumerate(zip(pages, found, strict=True), start=1):
        gone = {lines[i].text for i in idx}
        want = ({"Annual report 2026 | OFFICIAL"} if n % 2 == 0 else set()) | (
            {f"- {n} -"} if n > 1 else set()
        )
        assert gone == want, n
    # Lines without positions: the first and last lines of each page are the edges.
    flat = [[Line(ln.text, None, 10.0, False) for ln in lines] for lines in pages]
    assert [len(f) for f in furniture(flat, 10.0)] == [len(f) for f in found]
    # A sentence that happens to repeat is not furniture; nor is one page's lone line.
    same = [_page([("The force held 12 reviews in the year of the inspection.", 780)])] * 4
    assert furniture(same, 10.0) == [set()] * 4


def test_normalized_search_still_finds_pdf_quotes(tmp_path):
    doc, _, paragraphs = _report(tmp_path, "chapter-header", seed=4)
    for para in paragraphs[:5]:
        assert normalize(para) in normalize(doc.text)
