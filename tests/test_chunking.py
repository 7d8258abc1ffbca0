"""Chunks and sentences: exact offsets, sections, pages."""

from __future__ import annotations

import pytest

from ncpi_qa.ingest.chunking import chunk_document
from ncpi_qa.ingest.documents import Document, load_document
from ncpi_qa.ingest.text import find_normalized, normalize, sentence_spans

from .conftest import FIXTURES, SHIPPED_CORPUS

ALL_DOCS = sorted((FIXTURES / "corpus").iterdir()) + sorted(SHIPPED_CORPUS.glob("*.md"))
ALL_DOCS = [p for p in ALL_DOCS if p.name != "README.md"]


@pytest.mark.parametrize("path", ALL_DOCS, ids=lambda p: p.name)
def test_every_sentence_quote_equals_text_slice(path):
    doc = load_document(path)
    chunks = chunk_document(doc, max_chars=200)
    assert chunks
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for s, e in c.sentences:
            quote = doc.text[s:e]
            assert quote == quote.strip() and quote
            assert c.start <= s < e <= c.end
            assert not quote.startswith(("•", "- "))


def test_chunks_respect_max_chars_sections_and_pages():
    doc = load_document(FIXTURES / "corpus" / "riverside-inspection.pdf")
    chunks = chunk_document(doc, max_chars=800)
    assert [(c.page, c.section) for c in chunks] == [
        (1, "Overview"),
        (2, "Custody"),
        (3, "Recommendations"),
    ]
    assert chunks[1].chunk_id == f"riverside-inspection p2 [{chunks[1].start}:{chunks[1].end}]"
    assert "p. 2" in chunks[1].label


def test_long_paragraph_is_split_at_sentences():
    text = " ".join(f"Sentence number {i} talks about child protection." for i in range(40))
    doc = Document("d", "T", text, "d.txt", "txt", "0")
    chunks = chunk_document(doc, max_chars=300)
    assert len(chunks) > 1
    assert all(c.end - c.start <= 300 for c in chunks)
    assert sum(len(c.sentences) for c in chunks) == 40


def test_seed_sections():
    doc = load_document(SHIPPED_CORPUS / "ncpi-2019-commissioner-page.md")
    chunks = chunk_document(doc)
    assert chunks[-1].section == "PCC's response"
    assert chunks[0].section == ""  # the document title is not repeated as a section


def test_sentence_splitter_abbreviations_and_lists():
    text = "See e.g. the report. Dr. Smith met J. Bloggs in 2019. It ended.\n\n• one item\n• two"
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == [
        "See e.g. the report.",
        "Dr. Smith met J. Bloggs in 2019.",
        "It ended.",
        "one item",
        "two",
    ]


def test_find_normalized_maps_back_to_original_offsets():
    text = "Her Majesty\u2019s   Inspectorate of\nProbation launched"
    span = find_normalized(text, "her majesty's inspectorate of probation")
    assert span is not None
    assert normalize(text[span[0] : span[1]]) == "her majesty's inspectorate of probation"
    assert find_normalized(text, "not there") is None
