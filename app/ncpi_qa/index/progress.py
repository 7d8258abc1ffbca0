"""What a running build has done so far, for a progress display (the chat's upload panel).

``build_index(settings, progress=callback)`` calls ``callback(BuildProgress)`` as it reads
documents, embeds texts and writes the generation; ``progress=True`` keeps the terminal bar.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ncpi_qa.index.manifest import Manifest


@dataclass(frozen=True)
class BuildProgress:
    stage: str = "reading"  # "reading", "embedding", "writing"
    docs_done: int = 0  # files read (or skipped) of docs_total
    docs_total: int = 0
    pages: int = 0  # pages of the documents read so far (0 for documents without pages)
    chunks: int = 0  # chunks of the documents read so far
    texts_done: int = 0  # chunk and sentence texts embedded so far (unchanged documents:
    texts_total: int = 0  # their cached vectors are reused, nothing to embed)
    eta_s: float | None = None  # seconds of embedding left, once a slice has been timed


class Tracker:
    """Keeps a BuildProgress and hands each new state to ``callback`` (None: does nothing)."""

    def __init__(self, callback) -> None:
        self.callback = callback if callable(callback) else None
        self.state = BuildProgress()

    def __call__(self, **changes) -> None:
        if self.callback is None:
            return
        self.state = dataclasses.replace(self.state, **changes)
        self.callback(self.state)

    def read(self, doc=None) -> None:
        """One more file read (``doc``) or skipped (None)."""
        if self.callback is None:
            return
        pages = len({p[2] for p in getattr(doc, "pages", None) or []})
        self(docs_done=self.state.docs_done + 1, pages=self.state.pages + pages)

    def embedded(self, done: int, total: int, eta_s: float | None) -> None:
        self(stage="embedding", texts_done=done, texts_total=total, eta_s=eta_s)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def indexed_time(manifest: Manifest | None, doc, cache_file: Path) -> str:
    """When a document whose cached vectors a build reuses was indexed: the previous
    manifest's time for the same content, else when its cache file was written."""
    row = manifest.document(doc.doc_id) if manifest is not None else None
    if row is not None and row.sha256 == doc.sha256 and row.indexed_at:
        return row.indexed_at
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(cache_file.stat().st_mtime))
    except OSError as e:  # the file went meanwhile: it is indexed now
        logging.getLogger(__name__).debug("no time for %s (%s): now", cache_file, e)
        return utc_now()
