"""The store's files around a build: the writer's lock, leftovers of crashed builds, the
``CURRENT`` pointer, the build report and the embedding ETA (index/store.py builds and loads)."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ncpi_qa.errors import IndexBusyError
from ncpi_qa.index.manifest import Manifest, manifest_or_none

log = logging.getLogger(__name__)

LOCK_NAME = ".build.lock"

FORMAT_VERSION = 1  # of the manifest and what a generation holds


@contextlib.contextmanager
def store_lock(store_dir: Path, timeout: float, log=None) -> Iterator[None]:
    """Hold the store's build lock (an exclusive flock on ``.build.lock``).

    Waits up to ``timeout`` seconds for another build, saying so once through ``log``; then
    raises IndexBusyError. The OS drops the lock when the holder exits, even by kill -9.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(store_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        t0, said = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                holder = _lock_holder(fd)
                if waited >= timeout:
                    raise IndexBusyError(store_dir, waited, holder) from None
                if not said and log is not None:
                    log(
                        f"Another build is writing the index in {store_dir}"
                        f"{f' ({holder})' if holder else ''}; waiting up to {timeout:.0f}s "
                        "for it to finish..."
                    )
                    said = True
                time.sleep(min(0.1, max(timeout - waited, 0.01)))
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
        except OSError:  # the note is only for the message above; the lock is what counts
            log.debug("could not write who holds %s", store_dir / LOCK_NAME, exc_info=True)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _lock_holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:  # the message then names no holder
        log.debug("could not read who holds the build lock", exc_info=True)
        return ""


def clean_leftovers(store_dir: Path) -> list[str]:
    """Remove what crashed builds left behind. Call only while holding the build lock: then
    no temp folder or pointer can belong to a live build. Never touches a ``gen-*`` folder."""
    removed = []
    for p in store_dir.glob(".tmp-gen-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    for p in [*store_dir.glob(".CURRENT.*"), *(store_dir / "cache").glob("*.tmp.npz")]:
        p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


def current_generation(store_dir: Path) -> Path | None:
    try:
        name = (store_dir / "CURRENT").read_text().strip()
    except FileNotFoundError:  # never built (or not yet switched): no index
        return None
    except OSError:
        log.warning("cannot read %s: taken as no index", store_dir / "CURRENT", exc_info=True)
        return None
    gen = store_dir / name
    return gen if (gen / "manifest.json").exists() else None


def read_manifest(store_dir: Path) -> Manifest | None:
    """The live generation's manifest (None without one, or with one this version cannot
    read: a build then writes a whole new generation)."""
    gen = current_generation(store_dir)
    if gen is None:
        return None
    return manifest_or_none((gen / "manifest.json").read_text(encoding="utf-8"), gen)


@dataclass
class BuildReport:
    indexed: list[str] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)  # doc ids whose vectors were computed
    reused: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    up_to_date: bool = False
    n_chunks: int = 0
    n_sentences: int = 0
    texts_embedded: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        lines, docs = [], _count(len(self.indexed), "document")
        if self.up_to_date:
            lines.append(
                f"Index is up to date ({docs}, {_count(self.n_chunks, 'chunk')}): nothing to embed."
            )
        else:
            lines.append(
                f"Indexed {docs}, {_count(self.n_chunks, 'chunk')}, "
                f"{_count(self.n_sentences, 'sentence')} in {self.seconds:.1f}s: embedded "
                f"{_count(len(self.embedded), 'document')} "
                f"({_count(self.texts_embedded, 'text')}), reused {len(self.reused)}, removed "
                f"{len(self.removed)}."
            )
        for name, why in self.skipped:
            lines.append(f"Skipped {name}: {why}")
        return "\n".join(lines)


def _count(n: int, word: str) -> str:
    """ "1 document", "2 documents"."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def encode_with_eta(embedder, texts: list[str], progress, log) -> np.ndarray:
    """Encode all texts; on large work, in slices, logging done/total and time left.
    ``progress`` True shows the embedder's bar; a callable is called after each slice with
    (texts done, total, seconds left), in about 20 slices however few the texts."""
    slice_size, report = 2048, progress if callable(progress) else None
    if report is not None and texts:
        slice_size = max(16, min(slice_size, -(-len(texts) // 20)))
    elif len(texts) <= 2 * slice_size:
        return np.asarray(embedder.encode(texts, progress=progress), dtype=np.float32)
    out, t0, last = [], time.monotonic(), 0.0
    for i in range(0, len(texts), slice_size):
        out.append(np.asarray(embedder.encode(texts[i : i + slice_size]), dtype=np.float32))
        done, now = min(i + slice_size, len(texts)), time.monotonic()
        if report is not None:
            report(done, len(texts), (now - t0) / done * (len(texts) - done))
        if done < len(texts) and (now - last >= 10 or i == 0):
            left = (now - t0) / done * (len(texts) - done)
            log(f"  embedded {done}/{len(texts)} texts, about {_duration(left)} left")
            last = now
    return np.concatenate(out)


def encode_pooled_with_eta(
    embedder, texts: list[str], spans: list[list[tuple[int, int]]], progress, log
) -> tuple[np.ndarray, np.ndarray]:
    """``embedder.encode_pooled`` (text vectors, span vectors) in slices, reporting as
    ``encode_with_eta`` does (texts are chunks here; their sentences come with them)."""
    slice_size, report = 512, progress if callable(progress) else None
    if report is not None and texts:
        slice_size = max(16, min(slice_size, -(-len(texts) // 20)))
    outs, t0, last = [], time.monotonic(), 0.0
    for i in range(0, max(len(texts), 1), slice_size):
        outs.append(embedder.encode_pooled(texts[i : i + slice_size], spans[i : i + slice_size]))
        done, now = min(i + slice_size, len(texts)), time.monotonic()
        if report is not None:
            report(done, len(texts), (now - t0) / max(done, 1) * (len(texts) - done))
        if done < len(texts) and (now - last >= 10 or i == 0):
            left = (now - t0) / done * (len(texts) - done)
            log(f"  embedded {done}/{len(texts)} chunks, about {_duration(left)} left")
            last = now
    return (
        np.concatenate([np.asarray(t, dtype=np.float32) for t, _ in outs]),
        np.concatenate([np.asarray(s, dtype=np.float32) for _, s in outs]),
    )


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def sentence_offsets(chunks: list) -> list[int]:
    """Index of each chunk's first sentence in the generation's sentence order."""
    offsets, n = [], 0
    for c in chunks:
        offsets.append(n)
        n += len(c.sentences)
    return offsets
