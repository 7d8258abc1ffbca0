"""Hostile files (issue 17): bombs are refused quickly with the limit and its setting,
symbolic links never carry the index out of the corpus, uploads are refused inline."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.documents import load_document
from ncpi_qa.ingest.limits import Limits
from tests.helpers import docx, para


def refused(path: Path, limits: Limits | None = None, within: float = 5.0) -> str:
    t0 = time.perf_counter()
    with pytest.raises(LoadError) as e:
        load_document(path, limits=limits)
    assert time.perf_counter() - t0 < within
    return str(e.value)


def test_paragraph_bomb_docx_is_refused_at_once(tmp_path):
    bomb = docx(tmp_path / "bomb.docx", para("a") * 30_000)
    assert bomb.stat().st_size < 60_000
    why = refused(bomb)
    assert "10,000 paragraphs" in why and "NCPI_QA_MAX_PARAGRAPHS" in why


def test_docx_limits_unpacked_chars_and_elements(tmp_path):
    huge = docx(tmp_path / "huge.docx", para("a" * 3_000_000))
    why = refused(huge, Limits(max_unpacked_mb=1))
    assert "unpacks to more than 1 MB" in why and "NCPI_QA_MAX_UNPACKED_MB" in why
    why = refused(huge, Limits(max_text_chars=100_000))
    assert "NCPI_QA_MAX_TEXT_CHARS" in why
    deep = docx(tmp_path / "deep.docx", "<w:p>" + "<w:r>" * 50_000 + "</w:r>" * 50_000 + "</w:p>")
    why = refused(deep, Limits(max_elements=10_000))
    assert "NCPI_QA_MAX_ELEMENTS" in why


def test_docx_reads_styles_and_entities(tmp_path):
    good = docx(
        tmp_path / "good.docx",
        para("Findings", "Heading1") + para("Fish &amp; chips &#8212; &who; here"),
        '<!DOCTYPE w:document [<!ENTITY who "everyone">]>',
    )
    doc = load_document(good)
    assert "Fish & chips \u2014 everyone here" in doc.text  # nothing after an entity is lost
    bad = docx(tmp_path / "bad.docx", para("Before &undefined; after"))
    assert "DOCX" in refused(bad)  # an undefined entity: refused with the reason, not cut
    lol = '<!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
    )
    laughs = docx(tmp_path / "laughs.docx", para("&j;"), lol + "]>")
    refused(laughs)


def test_html_tag_bomb_is_refused_by_counting_and_open_tags_cost_one_pass(tmp_path):
    bomb = tmp_path / "tags.html"
    bomb.write_text("<html><body>" + "<b>" * 1_400_000)
    why = refused(bomb, within=3)
    assert "HTML tags" in why and "NCPI_QA_MAX_ELEMENTS" in why
    many = tmp_path / "many.html"
    many.write_text("<html><body>" + "<p>a</p>" * 20_000)
    assert "NCPI_QA_MAX_PARAGRAPHS" in refused(many)
    open_p = tmp_path / "open.html"
    open_p.write_text("<title>T</title>" + "<p>word " * 50_000)
    assert load_document(open_p).title == "T"


def test_text_defects(tmp_path):
    nul = tmp_path / "late-nul.txt"
    nul.write_bytes(b"Plain words.\n" * 1000 + b"\x00 hidden")
    assert "NUL byte at byte 13,000" in refused(nul)
    md = tmp_path / "links.md"
    md.write_text("# T\n\nSee [Child law](https://en.wikipedia.org/wiki/Child_(law)) today.\n")
    assert "See Child law today." in load_document(md).text
    exe = tmp_path / "report.pdf"
    exe.write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    assert "this file is not a PDF (it looks like a Windows program)" in refused(exe)


def test_symlinks_out_of_the_corpus_are_skipped_with_a_reason(tmp_path, fake_embedder):
    from ncpi_qa.index.files_store import Store
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("Secret\n\nThe vault code is SWORDFISH.\n")
    (corpus / "good.md").write_text("# Good\n\nThe team visited 64 forces.\n")
    (corpus / "passwd.txt").symlink_to(secret)
    (corpus / "rel.txt").symlink_to("../outside/secret.txt")
    (corpus / "dir").symlink_to(outside, target_is_directory=True)
    (corpus / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (corpus / "inside.md").symlink_to(corpus / "good.md")  # inside the corpus: fine
    settings = Settings(corpus_dir=corpus, store_dir=tmp_path / "store")
    report = build_index(settings, embedder=fake_embedder, log=lambda m: None)
    skipped = dict(report.skipped)
    assert "outside the corpus" in skipped["passwd.txt"]
    assert "outside the corpus" in skipped["rel.txt"]
    assert "folder" in skipped["dir"] and "cannot be followed" in skipped["dangling.txt"]
    store = Store.load(settings.store_dir)
    assert set(store.documents) == {"good", "inside"}
    assert not any("SWORDFISH" in d.text for d in store.documents.values())


def test_upload_refused_inline_quickly_and_parsed_once(tmp_path, fake_embedder, monkeypatch):
    from ncpi_qa.apps.chat import uploads as ui_uploads
    from ncpi_qa.ingest import documents
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=tmp_path / "corpus", store_dir=tmp_path / "store")
    (tmp_path / "corpus").mkdir()
    bomb = docx(tmp_path / "bomb.docx", para("a") * 30_000)
    reason, name, _ = ui_uploads.check_upload(bomb, "bomb.docx", settings)
    assert name == "bomb.docx" and "NCPI_QA_MAX_PARAGRAPHS" in reason
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "bomb.docx")
    assert "symbolic link" in ui_uploads.check_upload(link, "link.txt", settings)[0]
    big = tmp_path / "big.txt"
    big.write_text("x " * 40_000)
    small = settings.model_copy(update={"max_file_mb": 0.01})
    assert "NCPI_QA_MAX_FILE_MB" in ui_uploads.check_upload(big, "big.txt", small)[0]
    good = tmp_path / "good.md"
    good.write_text("# Good\n\nThe team visited 64 forces.\n")
    calls = []
    real = documents.parse
    monkeypatch.setattr(documents, "parse", lambda *a: calls.append(a[0]) or real(*a))
    reason, _, data = ui_uploads.check_upload(good, "good.md", settings)
    assert reason is None and data == good.read_bytes()
    (settings.corpus_dir / "good.md").write_bytes(data)
    from ncpi_qa.index.store import build_index

    build_index(settings, embedder=fake_embedder, log=lambda m: None)
    assert len(calls) == 1  # the build took the check's parse
