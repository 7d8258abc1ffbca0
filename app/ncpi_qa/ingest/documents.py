"""Loading source files into documents: an id, a title, and the exact text citations point into.

The loaders (``loaders.py``, which owns the dispatch by file type) turn a file into blocks
that a ``TextBuilder`` (``blocks.py``) joins into one text while recording heading and page
offsets. Any failure becomes a ``LoadError`` naming the reason; the caller skips that file
and goes on.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ncpi_qa.errors import LoadError
from ncpi_qa.ingest.blocks import Heading, Parsed
from ncpi_qa.ingest.limits import Limits
from ncpi_qa.ingest.loaders import SUPPORTED_SUFFIXES, parse

__all__ = [
    "Document",
    "assign_ids",
    "corpus_files",
    "file_sha256",
    "load_document",
    "outside_corpus",
    "path_hash",
    "slug",
]

IGNORED_NAMES = {"readme.md", "readme.txt", "readme"}


@dataclass
class Document:
    doc_id: str
    title: str
    text: str
    source: str
    kind: str
    sha256: str
    note: str = ""
    headings: list[Heading] = field(default_factory=list)
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, page number)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Document:
        d = dict(d)
        d["headings"] = [Heading(**h) for h in d.get("headings", [])]
        d["pages"] = [tuple(p) for p in d.get("pages", [])]
        return cls(**d)

    def page_at(self, offset: int) -> int | None:
        for start, end, number in self.pages:
            if start <= offset < end:
                return number
        return None


_SLUG_DROP = re.compile(r"[^\w]+|_+")
_ID_HASH_CHARS = 6


def slug(name: str) -> str:
    """A readable id part: NFKC, lower case, letters and digits of any script, hyphens between.
    ``rapport-d'été`` -> ``rapport-d-été``; ``报告`` -> ``报告``; nothing left -> ``doc``."""
    text = unicodedata.normalize("NFKC", name).lower()
    return _SLUG_DROP.sub("-", text).strip("-") or "doc"


def path_hash(rel: str, n: int = _ID_HASH_CHARS) -> str:
    """A short hash of a corpus-relative path (POSIX separators), the id's tie-breaker."""
    return hashlib.sha256(rel.encode("utf-8", "surrogateescape")).hexdigest()[:n]


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The parts of files parsed ahead of a build (an upload, checked before it is saved), by
# (sha256, suffix, limits): the build that follows takes them instead of parsing again.
_PARSED: dict[tuple, Parsed] = {}
_PARSED_MAX = 4


def load_document(
    path: Path,
    doc_id: str | None = None,
    data: bytes | None = None,
    limits: Limits | None = None,
    keep: bool = False,
) -> Document:
    """Load one file; raises LoadError with the reason if it cannot be used. ``keep``: remember
    the parse so that the next load of the same bytes (the build after an upload) reuses it."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type '{suffix or '(none)'}'")
    try:
        data = path.read_bytes() if data is None else data
    except OSError as e:
        raise LoadError(f"cannot read file ({e.strerror})") from e
    sha = file_sha256(data)
    key = (sha, suffix, limits or Limits())
    parts = _PARSED.pop(key, None)
    if parts is None:
        parts = parse(path, data, limits)
    if keep:
        while len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = parts
    return Document(
        doc_id=doc_id or assign_ids([path], path.parent)[path],
        title=parts.title,
        text=parts.text,
        source=path.name,
        kind=suffix.lstrip("."),
        sha256=sha,
        note=parts.note,
        headings=list(parts.headings),
        pages=list(parts.pages),
    )


def outside_corpus(path: Path, corpus_dir: Path) -> str | None:
    """Why ``path`` must not be read as part of ``corpus_dir`` (a symbolic link, or a path
    through one, whose target lies outside the folder), or None when it is inside."""
    if path.is_symlink() and path.is_dir():
        return "a symbolic link to a folder; links to folders are not followed"
    try:
        real = path.resolve(strict=True)
        root = corpus_dir.resolve(strict=True)
    except (OSError, RuntimeError) as e:  # a dangling link or a link loop
        return f"a symbolic link that cannot be followed ({getattr(e, 'strerror', None) or e})"
    if real != root and root not in real.parents:
        return "a symbolic link to a file outside the corpus folder; not read"
    return None


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Files under corpus_dir to index (hidden files and READMEs left out). A symbolic link
    is listed (so that it is reported), never followed out: see ``outside_corpus``."""
    files = []
    for p in sorted(corpus_dir.rglob("*")):
        rel = p.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if not (p.is_file() or p.is_symlink()):
            continue
        if p.name.lower() in IGNORED_NAMES:
            continue
        files.append(p)
    return files


def assign_ids(files: list[Path], corpus_dir: Path) -> dict[Path, str]:
    """One id per file, unique within the corpus and fixed by the file's relative path.

    A file whose path (without extension) is already an id, like ``riverside-inspection.pdf``
    or ``报告.md``, keeps it as is. Any other name, like ``Report 2019.pdf`` or
    ``ncpi_report.md``, gets its slug plus a short hash of its relative path
    (``report-2019-1a2b3c``), so names that slug alike (``Report.txt``/``report.txt``,
    ``ncpi report.md``/``ncpi_report.md``) can never share an id, and a plain name keeps
    its id whatever else is added. Two files that differ only in extension (``a.pdf``,
    ``a.docx``) both take the hashed form. A clash left after that
    (a file literally named like another's hashed id) is broken by a longer hash.
    """
    rels = {p: p.relative_to(corpus_dir).as_posix() for p in files}
    stems = {p: rels[p][: len(rels[p]) - len(p.suffix)] if p.suffix else rels[p] for p in files}
    plain = {p: slug(stems[p]) for p in files}
    counts = Counter(plain[p] for p in files if plain[p] == stems[p])

    def hashed(p: Path, n: int) -> str:
        return f"{plain[p]}-{path_hash(rels[p], n)}"

    ids = {
        p: plain[p] if plain[p] == stems[p] and counts[plain[p]] == 1 else hashed(p, _ID_HASH_CHARS)
        for p in files
    }
    n = _ID_HASH_CHARS
    while len(set(ids.values())) < len(ids) and n < 64:
        n += 4
        seen = Counter(ids.values())
        ids = {p: hashed(p, n) if seen[v] > 1 else v for p, v in ids.items()}
    return ids
