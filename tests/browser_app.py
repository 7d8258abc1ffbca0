"""The chat served for the browser tests (a helper module, not a test file): one real Gradio
server on 127.0.0.1 over an index built with the real model, closed when the block ends;
what the browser tests share (Chromium's arguments, the shipped page's questions, asking
in the page, axe-core). The ``chromium``, ``app`` and ``page`` fixtures are in conftest.py."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE_DIR = ROOT / "test-artifacts"
AXE = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
# questions the shipped page (corpus/ncpi-2019-commissioner-page.md) answers
Q64 = "How many inspections does the 2019 report draw on?"
JTAI = "Who carries out joint targeted area inspections with HMICFRS?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_chat(settings, embedder, **extra):
    """Index ``settings.corpus_dir`` with ``embedder``, serve the chat, and yield
    ``{"url", "holder", "settings", **extra}``."""
    from ncpi_qa.apps.chat import app as ui
    from ncpi_qa.index.store import build_index
    from ncpi_qa.qa.pipeline import QA

    build_index(settings, embedder=embedder, log=lambda m: None)
    demo = ui.create_app(QA(settings, embedder=embedder))
    port = free_port()
    ui.serve(demo, "127.0.0.1", port, settings=settings, prevent_thread_lock=True, quiet=True)
    try:
        yield {"url": f"http://127.0.0.1:{port}/", "holder": demo.holder, "settings": settings,
               **extra}  # fmt: skip
    finally:
        demo.close()


def ask(pg, question: str, n_turns: int) -> None:
    """Type ``question`` in the page's box, press Enter and wait for the ``n_turns``-th answer."""
    from playwright.sync_api import expect

    box = pg.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    expect(pg.locator("#chatlog .turn:not(.pending)")).to_have_count(n_turns, timeout=60_000)
    expect(pg.locator("#ask")).to_be_enabled()


def axe(pg) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now (axe-core from the
    npm package, installed under test-artifacts/ on first use)."""
    if not AXE.exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(AXE_DIR), "--no-audit", "--no-fund", "axe-core@4"],
            check=True,
            timeout=300,
        )
    pg.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = pg.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]
