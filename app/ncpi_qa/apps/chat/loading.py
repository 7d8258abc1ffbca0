"""Starting the chat fast: the page is served while the models load.

``launch`` opens the index (the page needs its documents and settings) and hands the app a
``LoadingQA`` in the ``Holder``; a background thread meanwhile imports torch, builds the
``QA`` on that same store, loads the reader and runs both models once (their first call pays
one-off set-up costs), then puts the ``QA`` in the holder. Until then ``LoadingQA`` answers
``settings`` and ``store`` at once and anything else (``ask``, ``embedder`` ...) once the
``QA`` is ready, so a question asked early waits for the models instead of failing.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

log = logging.getLogger("ncpi_qa.chat")


class LoadingQA:
    def __init__(self, settings, store, holder=None) -> None:
        self.settings, self.store, self.holder = settings, store, holder
        self._ready = threading.Event()
        self._qa = None
        self._error: BaseException | None = None
        self.seconds: float | None = None

    def start(self) -> LoadingQA:
        threading.Thread(target=self._load, name="ncpi-qa-load-models", daemon=True).start()
        return self

    def _load(self) -> None:
        t0 = time.perf_counter()
        try:
            from ncpi_qa.qa.pipeline import QA

            qa = QA(self.settings, store=self.store)
            qa.embed("warm up")  # the question encoder's first pass
            qa.answerer.reader.read("warm up", [("", "", "The models are loaded.")])
            self._qa = qa
            if self.holder is not None and self.holder.qa is self:
                self.holder.qa = qa  # readers take the QA itself from now on
        except BaseException as e:  # kept, and raised to whoever needs the QA
            self._error = e
            print(f"ncpi-qa: the models could not be loaded: {e}", file=sys.stderr, flush=True)
        finally:
            self.seconds = round(time.perf_counter() - t0, 2)
            self._ready.set()
            log.info("models loaded in %s s", self.seconds)

    def wait(self, timeout: float | None = None):
        """The loaded ``QA`` (waiting for it), or the error that stopped it loading."""
        if not self._ready.wait(timeout):
            raise TimeoutError("the models are still loading")
        if self._error is not None:
            raise RuntimeError(f"the models could not be loaded: {self._error}") from self._error
        return self._qa

    def __getattr__(self, name: str):
        if name.startswith("_"):  # not set yet in __init__, or copy/pickle probing
            raise AttributeError(name)
        return getattr(self.wait(), name)
