"""Build the index: scan the corpus, and unless nothing changed, read and chunk it, embed
what is not cached and write a whole new generation through the configured backend
(index/backend.py: FAISS + bm25s files by default, or Milvus), which switches readers to it
atomically. The stages are index/build.py's, over the typed plan of index/plan.py.

    <store>/cache/<key>.npz   per-document vectors, keyed by content hash + model + chunking

A build takes the backend's writer lock (a second build waits, up to
``index_lock_timeout`` seconds), clears what killed builds left, writes, then switches; a
crash or Ctrl-C before the switch leaves the previous generation live. Unchanged documents
reuse cached vectors (the cache stays on the writer's disk whatever the backend).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from ncpi_qa.errors import CorpusNotFoundError, IndexBusyError, StoreWriteError
from ncpi_qa.index import build
from ncpi_qa.index.backend import Backend, get_backend
from ncpi_qa.index.generations import BuildReport
from ncpi_qa.index.manifest import Manifest
from ncpi_qa.index.plan import (
    BuildPlan,
    ScanEntry,
    is_current,
    model_name,
    scan,
)
from ncpi_qa.settings import Settings

logger = logging.getLogger(__name__)


def is_up_to_date(
    settings: Settings, embedder_name: str, backend: Backend | None = None
) -> tuple[bool, Manifest | None, list[ScanEntry]]:
    """Cheap check (hashes only, no model, no parsing) of whether a rebuild would change nothing."""
    manifest = (backend or get_backend(settings)).read_manifest()
    entries = scan(settings.corpus_dir, settings.max_file_mb)
    if manifest is None:
        return False, None, entries
    return is_current(manifest, settings, entries, embedder_name), manifest, entries


def build_index(
    settings: Settings,
    embedder=None,
    rebuild: bool = False,
    progress=False,
    log=None,
    checkpoint: Callable[[str], None] | None = None,
) -> BuildReport:
    """Index settings.corpus_dir into settings.store_dir. ``embedder`` is made lazily if needed.
    ``progress``: True for a terminal bar, or a callable given a ``BuildProgress`` (documents
    read, pages, chunks, texts embedded, ETA) as the build goes (index/progress.py).
    ``checkpoint``: called with "locked" (the writer lock taken), "written" (the generation
    complete, just before readers switch to it) and "switched" (just after), for a caller that
    must order builds or stop one at a known step (the fault-injection tests)."""
    checkpoint = checkpoint or (lambda stage: None)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    t0 = time.perf_counter()
    if not settings.corpus_dir.is_dir():
        raise CorpusNotFoundError(settings.corpus_dir)
    name = model_name(settings, embedder)
    backend = get_backend(settings)
    seen = backend.live_generation()
    same, manifest, entries = is_up_to_date(settings, name, backend)
    if same and not rebuild:  # nothing to write: no lock needed, works on a read-only store
        _tidy(backend)
        return _up_to_date_report(manifest, t0)
    try:
        with backend.writer_lock(settings.index_lock_timeout, log):
            checkpoint("locked")
            backend.clean_leftovers()
            if backend.live_generation() != seen:  # another build finished meanwhile
                same, manifest, entries = is_up_to_date(settings, name, backend)
                if same and not rebuild:
                    return _up_to_date_report(manifest, t0)
            plan = BuildPlan(settings, name, entries, manifest, rebuild, progress, log)
            return build.run(plan, backend, embedder, checkpoint, t0)
    except OSError as e:
        raise StoreWriteError(settings.store_dir, e) from e


def _tidy(backend: Backend) -> None:
    """Clear what killed builds left, if nobody is building (never waits)."""
    try:
        with backend.writer_lock(0):
            backend.clean_leftovers()
    except (IndexBusyError, OSError) as e:  # a build is on, or the store is read-only
        logger.debug("left the store untidied: %s", e)


def _up_to_date_report(manifest: Manifest, t0: float) -> BuildReport:
    report = BuildReport(up_to_date=True)
    report.indexed = [d.doc_id for d in manifest.documents]
    report.n_chunks = manifest.n_chunks
    report.skipped = list(manifest.skipped)
    report.seconds = time.perf_counter() - t0
    return report
