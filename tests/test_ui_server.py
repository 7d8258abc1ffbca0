"""The chat app as a server: loopback by default, auth, the request guard, PDF pages, index
switching, exports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ncpi_qa.apps.chat import app as ui
from ncpi_qa.apps.chat import handlers as H
from ncpi_qa.apps.chat.server import Guard, check_bind, read_auth_file
from ncpi_qa.apps.chat.uploads import Holder
from ncpi_qa.errors import RemoteBindRefusedError

from .test_ui import _hostile

Q64 = "How many inspections does the 2019 report draw on?"


def test_binding_beyond_loopback_needs_the_flag():
    assert check_bind("127.0.0.1", False) is None and check_bind("::1", False) is None
    with pytest.raises(RemoteBindRefusedError, match="Refusing to serve on 0.0.0.0"):
        check_bind("0.0.0.0", False)
    assert "Warning" in check_bind("0.0.0.0", True)


def test_auth_file(tmp_path):
    f = tmp_path / "auth"
    f.write_text("# team\nann:s3cret\n\nbob:pa:ss\n")
    assert read_auth_file(f) == [("ann", "s3cret"), ("bob", "pa:ss")]
    f.write_text("nobody\n")
    with pytest.raises(Exception, match="line 1"):
        read_auth_file(f)


def _guarded_client():
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    async def echo(request):
        body = await request.body()
        return JSONResponse({"n": len(body)})

    app = Starlette(
        routes=[Route("/{path:path}", echo, methods=["GET", "POST"])],
        middleware=[
            Middleware(Guard, allowed_hosts={"chat.example"}, max_body=1000, max_upload=5000)
        ],
    )
    return TestClient(app, base_url="http://127.0.0.1:7860")


def test_guard_checks_host_origin_size_and_urls():
    c = _guarded_client()
    assert c.get("/").status_code == 200
    assert c.get("/", headers={"host": "chat.example"}).status_code == 200
    assert c.get("/", headers={"host": "evil.example:7860"}).status_code == 421
    same = {"origin": "http://127.0.0.1:7860"}
    assert c.post("/gradio_api/upload", content=b"x" * 10, headers=same).json() == {"n": 10}
    for origin in ("http://evil.example", "null"):
        r = c.post("/gradio_api/upload", content=b"x", headers={"origin": origin})
        assert r.status_code == 403
    assert c.post("/gradio_api/upload", content=b"x" * 6000).status_code == 413
    assert c.post("/gradio_api/queue/join", content=b"x" * 1200).status_code == 413
    foreign = {"data": [{"path": "http://169.254.169.254/latest", "meta": {}}]}
    assert c.post("/gradio_api/queue/join", json=foreign).status_code == 400
    own = {
        "data": [{"path": "/tmp/gradio/x.pdf", "url": "http://127.0.0.1:7860/gradio_api/file=x"}]
    }
    assert c.post("/gradio_api/queue/join", json=own).status_code == 200


@pytest.mark.slow
def test_examples_are_answered_by_the_shipped_corpus(shipped_qa, shipped_qa_quoting):
    """Each example's best sentence is on the shipped page; at the shipped threshold some are
    declined (their confidence is low), which the chat shows as such, never as an error."""
    for question in ui.EXAMPLES:
        result = shipped_qa_quoting.ask(question).to_dict()
        assert not result["abstained"] and result["citations"], question
        shipped = shipped_qa.ask(question).to_dict()
        assert shipped["abstained"] == (shipped["best_score"] < shipped["threshold"]), question


@pytest.mark.slow
def test_login_required_with_an_auth_file(tmp_path):
    import urllib.error
    import urllib.parse
    import urllib.request

    import gradio as gr

    from ncpi_qa.settings import Settings

    auth = tmp_path / "auth"
    auth.write_text("ann:pw\n")
    settings = Settings(auth_file=auth, store_dir=tmp_path / "store")
    with gr.Blocks() as demo:
        gr.Markdown("hi")
    port = _free_port()
    ui.serve(demo, "127.0.0.1", port, settings=settings, prevent_thread_lock=True, quiet=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(base + "config", timeout=10)
        assert refused.value.code == 401
        data = urllib.parse.urlencode({"username": "ann", "password": "wrong"}).encode()
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(base + "login", data=data, timeout=10)
        assert wrong.value.code in (400, 401)
        data = urllib.parse.urlencode({"username": "ann", "password": "pw"}).encode()
        with urllib.request.urlopen(base + "login", data=data, timeout=10) as r:
            assert r.status == 200
    finally:
        demo.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_page_pdf(path, fact: str) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Delta inspection\n\nThis inspection looked at the custody suites.")
    pdf.add_page()
    pdf.multi_cell(0, 8, f"Findings\n\n{fact} Each cell was checked twice a day.")
    pdf.output(str(path))


def test_pdf_page_is_rendered_with_the_quote_marked(tmp_path):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from ncpi_qa.apps.chat.pdfpage import MARK_LINE, find_quote, page_image

    fact = "The delta inspection of Northshire custody suites found 37 cells in use."
    pdf = tmp_path / "delta.pdf"
    _two_page_pdf(pdf, fact)

    def outline_pixels(uri: str) -> int:
        img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB")
        return int((np.asarray(img) == np.array(MARK_LINE[:3], dtype=np.uint8)).all(axis=2).sum())

    uri, marked = page_image(pdf, 2, fact)
    assert marked and uri.startswith("data:image/png;base64,")
    assert outline_pixels(uri) > 100
    plain, marked = page_image(pdf, 1, fact)  # not on page 1: rendered, nothing marked
    assert not marked and outline_pixels(plain) == 0
    assert page_image(pdf, 3, fact) is None
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing")
    assert page_image(bad, 1, fact) is None
    assert find_quote("Some  text\r\nacross lines here", "text across LINES") == (6, 18)
    assert find_quote("abc", "zzz") is None


@pytest.mark.slow
def test_app_switches_to_an_index_built_while_it_runs(tmp_path, embedder):
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA
    from ncpi_qa.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "alpha.txt").write_text("Alpha review\n\nThe alpha review took 6 weeks in 2018.\n")
    # abstain_threshold 0: the answer quotes its best sentence; what is checked is the switch
    # to the new index, not the (calibrated) decision to assert it
    settings = Settings(corpus_dir=corpus, store_dir=tmp_path / "store", abstain_threshold=0.0)
    build_index(settings, embedder=embedder, log=lambda m: None)
    holder = Holder(QA(settings, embedder=embedder))
    old = holder.qa
    turns, _ = H.answer_turn(holder, "How long did the alpha review take?", [])
    assert holder.qa is old  # nothing new: no reload
    (corpus / "omega.txt").write_text(
        "Omega review\n\nThe omega review of custody took 14 weeks.\n"
    )
    build_index(settings, embedder=embedder, log=lambda m: None)  # as `ncpi-qa index` would
    turns, turn = H.answer_turn(holder, "How long did the omega review of custody take?", turns)
    assert holder.qa is not old and len(holder.qa.store.documents) == 2
    assert not turn.abstained and "14 weeks" in turn.answer


def test_export_files_do_not_pile_up(tmp_path):
    import time as _time

    turn, _, quote = _hostile()
    first = Path(H.write_export([turn], tmp_path))
    # verbatim inside its fenced quote, where Markdown reads nothing as markup
    assert f"> ```text\n> {quote}\n> ```" in first.read_text(encoding="utf-8")
    old = _time.time() - 2 * 3600
    os.utime(first, (old, old))
    second = Path(H.write_export([turn], tmp_path))
    assert second.exists() and not first.exists()
    assert H.write_export([], tmp_path) is None


def test_machine_names_only_for_every_interface():
    import socket

    from ncpi_qa.apps.chat.server import machine_names

    assert machine_names("127.0.0.1") == set() and machine_names("192.0.2.7") == set()
    assert socket.gethostname().lower() in machine_names("0.0.0.0")


def test_status_line_speaks_the_answer_escaped():
    out = H.status_html("Answer ready.", spoken="64 <b>x</b>")
    assert 'role="status"' in out and '<span class="sr-only">64 &lt;b&gt;x&lt;/b&gt;</span>' in out
    assert "sr-only" not in H.status_html("Cleared.")
