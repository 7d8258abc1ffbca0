"""The chat served for the browser tests (a helper module, not a test file): one real Gradio
server on 127.0.0.1 over an index built with the real model, closed when the block ends."""

from __future__ import annotations

import contextlib
import socket


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
