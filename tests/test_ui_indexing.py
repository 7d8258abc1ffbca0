"""Indexing the chat can show (issue 16, item 5): a build's progress as it goes, each
document's own indexed time, uploads with progress, a notice to other users, removal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def _multi_page_pdf(path: Path, pages: int, fact: str = "") -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Section {n}\n\n" + " ".join(
            f"Inspectors visited station {n}-{k} in week {k} and wrote {k + n} notes."
            for k in range(1, 13)
        ) + (f" {fact}" if n == pages and fact else ""))  # fmt: skip
    pdf.output(str(path))
    return path


def test_build_reports_progress_documents_pages_chunks_and_texts(fixture_corpus, tmp_path):
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    from .fakes import HashingEmbedder

    big = _multi_page_pdf(fixture_corpus / "long-report.pdf", 12)
    settings = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")
    seen = []
    report = build_index(settings, embedder=HashingEmbedder(), progress=seen.append, log=print)
    files = sorted(p for p in fixture_corpus.iterdir() if p.is_file())
    assert seen[0].docs_total == len(files) == 5
    # pages: the two PDFs' pages as pypdf counts them (the other kinds have none)
    pages = _pdf_pages(big) + _pdf_pages(FIXTURES / "corpus" / "riverside-inspection.pdf")
    assert max(s.pages for s in seen) == pages
    stages = [s.stage for s in seen]
    assert stages.index("embedding") < stages.index("writing") and stages[-1] == "writing"
    embedding = [s for s in seen if s.stage == "embedding" and s.texts_done]
    done = [s.texts_done for s in embedding]
    assert len(done) >= 10 and done == sorted(done) and len(set(done)) == len(done)
    assert done[-1] == embedding[-1].texts_total == report.texts_embedded
    assert embedding[0].eta_s > 0 and embedding[-1].eta_s == 0
    assert seen[-1].chunks == report.n_chunks and seen[-1].docs_done == 5


def test_each_document_keeps_the_time_it_was_indexed(fixture_corpus, tmp_path, fake_embedder):
    from ncpi_qa.index.generations import read_manifest
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")
    t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    build_index(settings, embedder=fake_embedder, log=lambda m: None)
    first = {d.doc_id: d.indexed_at for d in read_manifest(settings.store_dir).documents}
    assert all(t0 <= t for t in first.values())
    time.sleep(1.1)
    (fixture_corpus / "later-note.txt").write_text("Later note\n\nThe later note came in May.\n")
    t1 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    build_index(settings, embedder=fake_embedder, log=lambda m: None)
    second = {d.doc_id: d.indexed_at for d in read_manifest(settings.store_dir).documents}
    assert second.pop("later-note") >= t1 > max(first.values())
    assert second == first  # the unchanged documents keep their own time, not the build's


def test_progress_and_notice_words():
    from types import SimpleNamespace

    from ncpi_qa.apps.chat import indexing as IX
    from ncpi_qa.index.progress import BuildProgress

    # the rebuild reads 3 files, 2 already indexed (43 pages, 268 chunks): the upload's own
    # figures are what is left, 24 pages and 144 chunks
    reading = BuildProgress("reading", 1, 3, 10, 50)
    indexing = {"name": "report.pdf", "session": "s1", "started": time.time() - 5,
                "progress": reading, "base": (2, 43, 268)}  # fmt: skip
    assert IX.progress_text(indexing).startswith(
        "Indexing report.pdf: reading the files (1 of 3, with the 2 documents already indexed)"
    )
    p = BuildProgress("embedding", 3, 3, 67, 412, 1200, 3000, 20.4)
    indexing["progress"] = p
    text = IX.progress_text(indexing)
    assert text.startswith("Indexing report.pdf: read (24 pages, 144 chunks)"), text
    assert "embedded 1,200 of 3,000 texts" in text and "about 20 s left" in text
    assert 'value="48"' in IX.progress_html(indexing)  # 20 + 70 * 1200 / 3000
    holder = SimpleNamespace(indexing=indexing, added=None)
    other = IX.notice_html(holder, "s2")
    assert "report.pdf is being indexed (48%): answers will include it when it is done" in other
    assert "Your file report.pdf is being indexed" in IX.notice_html(holder, "s1")
    holder.indexing, holder.added = None, ("report.pdf", time.time())
    assert "report.pdf was added: answers include it now" in IX.notice_html(holder, "s2")
    holder.removed = ("old.pdf", time.time() + 1)  # the newest of the two is said
    assert "old.pdf was removed from the index: answers no longer include it" in (
        IX.notice_html(holder, "s2")
    )
    holder.added = ("report.pdf", time.time() - IX.ADDED_NOTICE_S - 1)
    holder.removed = ("old.pdf", time.time() - IX.ADDED_NOTICE_S - 1)
    assert IX.notice_html(holder, "s2") == '<p class="notice" role="status"></p>'


@pytest.mark.slow
def test_only_uploads_are_removed_and_moved_aside(fake_index, fake_embedder, tmp_path):
    from ncpi_qa.apps.chat import indexing as IX
    from ncpi_qa.apps.chat.uploads import Holder, add_document, removable, remove_document
    from ncpi_qa.qa.pipeline import QA

    holder = Holder(QA(fake_index, embedder=fake_embedder))
    corpus = fake_index.corpus_dir
    shipped = sorted(p.name for p in corpus.iterdir())
    src = tmp_path / "up" / "ferry-notes.txt"
    src.parent.mkdir()
    src.write_text("Ferry notes\n\nThe ferry ran 14 times on Sunday.\n")
    added = add_document(holder, str(src), src.name)
    docs = holder.qa.store.documents
    # the file's own chunks (as Sources lists them), then the index's documents
    own = holder.qa.store.manifest.document("ferry-notes")
    n_docs = len(holder.qa.store.manifest.documents)
    assert added == (f"Added ferry-notes.txt: {own.n_chunks} chunk"
                     f"{'s' if own.n_chunks != 1 else ''}. The index now holds {n_docs} "
                     "documents. You can ask about it now."), added  # fmt: skip
    assert removable(fake_index, docs) == {"ferry-notes"}
    sources = IX.render_sources(holder.qa.store.manifest, docs, removable(fake_index, docs))
    assert sources.count('class="remove"') == 1 and "ferry-notes.txt" in sources
    # a document of the corpus folder is refused, the file kept
    said = remove_document(holder, "fixture-notes")
    assert "not added through the chat" in said and (corpus / "fixture-notes.txt").exists()
    said = remove_document(holder, "ferry-notes")
    assert said.startswith("Removed Ferry notes (ferry-notes.txt) from the index: "
                           f"{n_docs - 1} documents are indexed now."), said  # fmt: skip
    assert sorted(p.name for p in corpus.iterdir()) == shipped
    aside = list((fake_index.store_dir / "removed").glob("*-ferry-notes.txt"))
    assert [a.read_text() for a in aside] == [src.read_text()]
    assert "ferry-notes" not in holder.qa.store.documents
    assert removable(fake_index, holder.qa.store.documents) == set()


@pytest.mark.slow
def test_a_stale_remove_says_what_happened(fake_index, fake_embedder, tmp_path):
    """Issue 26 item 3: a Remove… clicked in a tab whose Sources predates a removal in
    another tab says the document is gone and redraws the list, instead of dropping the row
    silently; the notice tells everyone of the removal."""
    from ncpi_qa.apps.chat import indexing as IX
    from ncpi_qa.apps.chat.events import ChatEvents
    from ncpi_qa.apps.chat.uploads import Holder, add_document, remove_document
    from ncpi_qa.qa.pipeline import QA

    holder = Holder(QA(fake_index, embedder=fake_embedder))
    src = tmp_path / "up" / "ferry-notes.txt"
    src.parent.mkdir()
    src.write_text("Ferry notes\n\nThe ferry ran 14 times on Sunday.\n")
    add_document(holder, str(src), src.name)
    events = ChatEvents(holder, tmp_path / "export")
    other_tab = events.sources_key()  # what the other tab's Sources shows: with the file
    assert remove_document(holder, "ferry-notes").startswith("Removed Ferry notes")
    assert events.sources_key() != other_tab  # its next tick redraws Sources
    import gradio as gr

    out = events.action([], gr.EventData(None, {"action": "rm:ferry-notes"}))
    status, sources = out[5], out[6]
    said = "That document is no longer in the index (it was removed, perhaps in another tab"
    assert said in status and said in sources
    assert "ferry-notes.txt" not in sources and 'data-action="rm:' not in sources
    assert "ferry-notes.txt was removed from the index" in IX.notice_html(holder, None)
