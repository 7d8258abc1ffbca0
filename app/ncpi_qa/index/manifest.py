"""What a generation of the index holds, as one typed record: ``Manifest`` (written by the
build as ``manifest.json``, or the Milvus backend's manifest blob; read back by every store).

A build compares the live manifest with the corpus and the settings to tell whether anything
changed (``model``, ``chunking``, ``files``, ``limits``: fingerprints compared whole), and
the apps read what it says about each document (``documents``) and what it skipped, by
attribute only: the manifest is not a dict anywhere outside this module."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)


class ManifestDocument(BaseModel):
    """One indexed document, as Sources lists it."""

    model_config = ConfigDict(extra="ignore")

    doc_id: str
    title: str
    source: str
    kind: str
    sha256: str
    n_chunks: int
    chars: int
    indexed_at: str  # when this document's vectors were made (UTC, ISO 8601)


class Manifest(BaseModel):
    """A generation: what built it (the fingerprints a later build compares), what it holds."""

    model_config = ConfigDict(extra="ignore")

    format_version: int
    model: str  # the embedding model's name
    dim: int
    chunking: dict[str, Any]  # index/plan.chunking_config: a change re-embeds
    files: dict[str, str]  # corpus-relative path -> sha256, or "skip:<reason>"
    limits: dict[str, Any]  # the content limits the files were read under
    documents: list[ManifestDocument]
    skipped: list[tuple[str, str]] = []  # (file name, reason)
    n_chunks: int
    n_sentences: int
    built_at: str
    faiss: str | None = None  # files backend: what build_faiss made ("flat-ip", ...)
    milvus_index: str | None = None  # Milvus backend: "flat" or "hnsw"
    previous_generation: str | None = None  # Milvus backend: kept one build longer

    def document(self, doc_id: str) -> ManifestDocument | None:
        return next((d for d in self.documents if d.doc_id == doc_id), None)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False)

    @classmethod
    def parse(cls, data: dict | str | bytes) -> Manifest:
        """From its JSON text or decoded dict (raises ValidationError, a ValueError)."""
        if isinstance(data, dict):
            return cls.model_validate(data)
        return cls.model_validate_json(data)


def manifest_or_none(data, where: str | Path) -> Manifest | None:
    """The manifest, or None (logged) when it is not one this version reads: a build then
    treats the store as empty and writes a whole new generation."""
    if data is None:
        return None
    try:
        return Manifest.parse(data)
    except ValidationError as e:
        log.warning("the manifest in %s is not readable here (%s): rebuilding", where, e)
        return None
