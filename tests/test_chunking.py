"""Chunks and sentences: exact offsets, sections, pages."""

from __future__ import annotations

import pytest

from ncpi_qa.ingest.blocks import Heading
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
    h1 = "HMICFRS - National Child Protection Inspections 2019"  # not the title (front matter)
    assert chunks[-1].section == f"{h1} › PCC's response"
    assert chunks[0].section == h1


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


FILLER = (
    "and the panel then went on to discuss the routine matters of scheduling, staffing, "
    "training budgets, room bookings and the minutes of earlier meetings in some detail "
)
FACT = "the Northfield custody suite held 37 children overnight during March 2018"


def long_sentence_doc(n_chars=10_000):
    half = FILLER * (n_chars // 2 // len(FILLER) + 1)
    half = half[: n_chars // 2]
    text = "Minutes\n\nThe meeting opened " + half + FACT + " " + half.rstrip() + "."
    return Document("minutes", "Minutes", text, "minutes.txt", "txt", "0", headings=[])


def _tokens(text):
    from ncpi_qa.index.embedding import model_token_counter

    return model_token_counter().counts([text])[0] + 2  # with [CLS] and [SEP]


@pytest.mark.parametrize("max_chars", [800, 5000])  # the char bound binds, the token bound binds
def test_over_long_sentence_is_split_to_fit_the_model_with_exact_offsets(max_chars):
    doc = long_sentence_doc()
    assert len(sentence_spans(doc.text)) == 2  # "Minutes" and one ~10,000-character sentence
    chunks = chunk_document(doc, max_chars=max_chars, max_tokens=256)
    assert len(chunks) >= 8
    pieces = [s for c in chunks for s in c.sentences]
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text and len(c.text) <= max_chars
        assert _tokens(c.embed_text()) <= 256
        for s, e in c.sentences:
            assert _tokens(doc.text[s:e]) <= 256
            assert doc.text[s:e] == doc.text[s:e].strip()
    # The pieces cover the sentence: only whitespace between them, none of it lost.
    sentence = sentence_spans(doc.text)[1]
    assert pieces[1][0] == sentence[0] and pieces[-1][1] == sentence[1]
    gaps = [doc.text[b:c] for (_, b), (c, _) in zip(pieces, pieces[1:], strict=False)]
    assert all(g and not g.strip() for g in gaps[1:])
    # Cut at spaces, never inside a word, and the fact sits whole in one piece.
    assert all(doc.text[e - 1].isalnum() or doc.text[e - 1] in ",." for _, e in pieces)
    assert sum(FACT in doc.text[s:e] for s, e in pieces) == 1


def test_text_without_spaces_is_split_between_tokens():
    text = "报告" * 1500 + "。"
    doc = Document("cjk", "报告", text, "cjk.txt", "txt", "0")
    chunks = chunk_document(doc, max_chars=800, max_tokens=64)
    assert "".join(c.text for c in chunks) == text
    assert all(_tokens(c.embed_text()) <= 64 for c in chunks)


def test_char_bound_counter_never_undercounts_the_tokenizer():
    from ncpi_qa.index.embedding import model_token_counter
    from ncpi_qa.ingest.chunking import CharTokens

    texts = ["Hello, world!", "报告 rapport d'été 12345.", "£250,000 • a-b/c", FACT]
    exact = model_token_counter().counts(texts)
    assert all(b >= a for a, b in zip(exact, CharTokens().counts(texts), strict=True))
    assert model_token_counter().name.startswith("tokenizer-")  # the real tokenizer is used


def test_fact_in_the_middle_of_a_10000_character_sentence_is_found(tmp_path, embedder):
    """Real model, real index: the piece holding the fact is the nearest chunk and sentence.
    Embedded whole (truncated to 256 tokens) the sentence scores ~0.13 against the question,
    below the unrelated Southfield sentence (~0.39); the piece holding the fact ~0.58."""
    import numpy as np

    from ncpi_qa.index.files_store import Store
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    corpus = tmp_path / "c"
    corpus.mkdir()
    doc = long_sentence_doc()
    (corpus / "minutes.txt").write_text(doc.text)
    (corpus / "other.txt").write_text(
        "Other\n\nThe Southfield suite was refurbished in 2017. Its budget was agreed in May.\n"
    )
    settings = Settings(corpus_dir=corpus, store_dir=tmp_path / "s")
    build_index(settings, embedder=embedder, log=lambda m: None)
    store = Store.load(settings.store_dir)
    text = store.documents["minutes"].text
    assert FACT in text and len(text) > 10_000
    q = embedder.encode(["How many children did the Northfield custody suite hold in March 2018?"])
    _, hits = store.faiss_index.search(np.asarray(q, dtype=np.float32), 1)
    best = store.chunks[int(hits[0][0])]
    assert best.doc_id == "minutes" and FACT in best.text
    sims = np.asarray(store.sentence_vectors) @ q[0]
    spans = [(c, s, e) for c in store.chunks for s, e in c.sentences]
    c, s, e = spans[int(np.argmax(sims))]
    assert FACT in store.documents[c.doc_id].text[s:e]


def test_random_texts_every_chunk_and_sentence_fits_the_window():
    """Seeded fuzz: long space-less runs, mixed scripts, odd windows and char limits."""
    import random

    rng = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyzéü0123456789报告审查-/.,"

    def word(n):
        return "".join(rng.choice(alphabet) for _ in range(n))

    for _ in range(30):
        parts = []
        for _ in range(rng.randint(1, 6)):
            n = rng.choice([50, 500, 3000, 8000])
            spaced = " ".join(word(rng.randint(1, 15)) for _ in range(n // 8))
            parts.append(word(n) if rng.random() < 0.5 else spaced)
        doc = Document("d", "A title", "Title\n\n" + "\n\n".join(parts), "d.txt", "txt", "0")
        window, max_chars = rng.choice([64, 128, 256]), rng.choice([300, 800, 5000])
        chunks = chunk_document(doc, max_chars=max_chars, max_tokens=window)
        # Nothing lost: all the text but whitespace is in the chunks, in order.
        assert "".join(c.text for c in chunks).replace(" ", "").replace("\n", "") == (
            "Title" + "".join(parts).replace(" ", "")
        )
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text and len(c.text) <= max_chars
            assert _tokens(c.embed_text()) <= window
            for s, e in c.sentences:
                assert _tokens(doc.text[s:e]) <= window


def test_paragraph_running_over_a_page_break_is_one_sentence_on_its_first_page():
    """A PDF paragraph that runs on to the next page (the loader joins it with a space): its
    sentence is whole, and the chunk is cited on the page it starts on."""
    one = "Inspectors found that the force had improved its response to missing"
    two = "children since 2016. The next inspection is due in 2027."
    text = f"Findings\n\n{one} {two}\n\nA new paragraph on page two."
    s1, s2 = len("Findings\n\n"), len("Findings\n\n") + len(one) + 1
    heads = [Heading(0, 8, 1, "Findings")]
    doc = Document(
        "d",
        "T",
        text,
        "d.pdf",
        "pdf",
        "0",
        headings=heads,
        pages=[(0, s2 - 1, 1), (s2, len(text), 2)],
    )
    chunks = chunk_document(doc)
    sentences = [text[s:e] for c in chunks for s, e in c.sentences]
    assert f"{one} children since 2016." in sentences
    assert chunks[0].page == 1 and chunks[0].start == s1
    # A real page break (a blank line between the pages) still starts a new chunk.
    text2 = text.replace(f"{one} {two}", f"{one}.\n\n{two}")
    cut = text2.index(two)
    doc2 = Document(
        "d", "T", text2, "d.pdf", "pdf", "0", pages=[(0, cut - 2, 1), (cut, len(text2), 2)]
    )
    assert [c.page for c in chunk_document(doc2)] == [1, 2]


def test_contents_lines_are_not_sentences():
    toc = "1. Introduction ........ 3\n2. Findings . . . . . . . 7\n3. Recommendations 12"
    text = f"Contents\n\n{toc}\n\nThe report has three chapters."
    for kind in ("pdf", "md"):
        doc = Document("d", "T", text, f"d.{kind}", kind, "0")
        sentences = [text[s:e] for c in chunk_document(doc) for s, e in c.sentences]
        assert not any("...." in s or "Recommendations" in s for s in sentences), kind
        assert "The report has three chapters." in sentences
