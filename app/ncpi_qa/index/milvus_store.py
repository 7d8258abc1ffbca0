"""The Milvus backend: one generation is three collections on a Milvus server, and the alias
``<prefix>_live`` names the live one (switched atomically with alter_alias).

    <prefix>_g<stamp>        one row per chunk: id (chunk index), doc_id, dense vector, and
                             ``terms`` (the chunk's BM25 tokens, index/lexical.py) with a BM25
                             function making the sparse vector Milvus full-text-searches
    <prefix>_g<stamp>_sent   one row per sentence: id (sentence index), chunk, dense vector
    <prefix>_g<stamp>_blob   the manifest, documents, chunks and document frequencies as JSON
                             parts (Milvus text fields hold 64 KB)
    <prefix>_writer          the writer's lease (index/milvus_lease.py)

Milvus is given the project's own BM25 tokens (stop words out, Snowball stems) and BM25's
k1 1.5 / b 0.75, so its full-text scores are bm25s's; the fitted fusion (qa/retrieve.py) is
applied to what both searches return. A reader loads the text (documents, chunks) into memory
and fetches vectors by id; searches run in Milvus against the generation it loaded, which is
kept one build longer after a switch.
"""

from __future__ import annotations

import contextlib
import json

import numpy as np

from ncpi_qa.errors import IndexIncompatibleError, NoIndexError, VectorStoreUnavailableError
from ncpi_qa.index.dense import HNSW_EF_SEARCH
from ncpi_qa.index.generations import FORMAT_VERSION, sentence_offsets, store_lock
from ncpi_qa.index.lexical import bm25_tokens
from ncpi_qa.index.manifest import Manifest, ManifestDocument, manifest_or_none
from ncpi_qa.index.milvus_lease import WriterLease, milvus_client
from ncpi_qa.index.milvus_write import BATCH, BM25_PARAMS, MilvusWriter
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.ingest.documents import Document
from ncpi_qa.settings import Settings


class MilvusBackend:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri, self.prefix = settings.milvus_uri, settings.milvus_collection_prefix
        self.alias = f"{self.prefix}_live"

    @property
    def client(self):
        return milvus_client(self.uri, self.settings.milvus_token)

    def describe(self) -> str:
        return f"'{self.prefix}' on Milvus at {self.uri}"

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (NoIndexError, IndexIncompatibleError):
            raise
        except Exception as e:  # grpc / MilvusException: the server is down or refused
            raise VectorStoreUnavailableError(self.uri, f"{type(e).__name__}: {e}") from e

    def live_generation(self) -> str | None:
        aliases = self._call(self.client.list_aliases).get("aliases", [])
        if self.alias not in aliases:
            return None
        return self._call(self.client.describe_alias, self.alias)["collection_name"]

    def read_manifest(self) -> Manifest | None:
        gen = self.live_generation()
        return manifest_or_none(read_blob(self.client, gen, "manifest"), gen) if gen else None

    def generations(self) -> list[str]:
        names = self._call(self.client.list_collections)
        base = f"{self.prefix}_g"
        return sorted(
            {n.removesuffix("_sent").removesuffix("_blob") for n in names if n.startswith(base)}
        )

    def drop_generation(self, gen: str) -> None:
        for name in (gen, f"{gen}_sent", f"{gen}_blob"):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    @contextlib.contextmanager
    def writer_lock(self, timeout: float, log=None):
        """The store folder's file lock (it holds the vector cache), then the server's lease."""
        with store_lock(self.settings.store_dir, timeout, log):
            lease = WriterLease(
                self.client,
                f"{self.prefix}_writer",
                self.settings.milvus_lease_seconds,
                self.describe(),
            )
            with lease.held(timeout, log):
                yield

    def clean_leftovers(self) -> list[str]:
        """Drop generations neither live nor kept (what a killed build left)."""
        live = self.live_generation()
        keep = {live} if live else set()
        if live:
            manifest = manifest_or_none(read_blob(self.client, live, "manifest"), live)
            keep.add(manifest.previous_generation if manifest else None)
        dropped = [g for g in self.generations() if g not in keep]
        for g in dropped:
            self.drop_generation(g)
        return dropped

    def begin(self) -> MilvusWriter:
        return MilvusWriter(self)

    def load(self) -> MilvusStore:
        for attempt in range(3):
            gen = self.live_generation()
            if gen is None:
                raise NoIndexError(self.describe())
            try:
                return MilvusStore.load(self, gen)
            except VectorStoreUnavailableError:
                if attempt < 2 and self.live_generation() != gen:
                    continue  # switched and pruned while we read: read the alias again
                raise
        raise AssertionError("unreachable")


def read_blob(client, gen: str, key: str):
    """A JSON value written by ``MilvusWriter._blobs`` (None when absent)."""
    head = client.query(f"{gen}_blob", ids=[f"{key}#n"], output_fields=["data"])
    if not head:
        return None
    keys = [f"{key}#{i}" for i in range(int(head[0]["data"]))]
    parts: dict[str, str] = {}
    for i in range(0, len(keys), 64):
        rows = client.query(f"{gen}_blob", ids=keys[i : i + 64], output_fields=["key", "data"])
        parts.update({r["key"]: r["data"] for r in rows})
    if len(parts) != len(keys):
        raise IndexIncompatibleError(gen, f"{len(keys) - len(parts)} parts of {key} are missing")
    return json.loads("".join(parts[k] for k in keys))


class MilvusStore:
    """A loaded generation on Milvus: text in memory, vectors and searches on the server."""

    def __init__(self, backend, generation, manifest, documents, chunks, df) -> None:
        self.backend, self.generation = backend, generation
        self.manifest, self.documents, self.chunks = manifest, documents, chunks
        self.sentence_offsets = sentence_offsets(chunks)
        self._df = df
        self._hnsw = manifest.milvus_index == "hnsw"

    @classmethod
    def load(cls, backend: MilvusBackend, gen: str) -> MilvusStore:
        client = backend.client
        data = backend._call(read_blob, client, gen, "manifest")
        if data is None or data.get("format_version") != FORMAT_VERSION:
            raise IndexIncompatibleError(backend.describe(), "it was built by another version")
        manifest = Manifest.parse(data)
        docs = [Document.from_dict(d) for d in backend._call(read_blob, client, gen, "documents")]
        chunks = [Chunk.from_dict(c) for c in backend._call(read_blob, client, gen, "chunks")]
        df = backend._call(read_blob, client, gen, "df")
        return cls(backend, gen, manifest, {d.doc_id: d for d in docs}, chunks, df)

    def _client(self):
        return self.backend.client

    def dense_search(self, qvec: np.ndarray, n: int) -> list[tuple[int, float]]:
        n = min(n, len(self.chunks))
        if n <= 0:
            return []
        params = {"metric_type": "IP"}
        if self._hnsw:
            params["params"] = {"ef": max(HNSW_EF_SEARCH, n)}
        res = self.backend._call(
            self._client().search,
            self.generation,
            data=[np.asarray(qvec, np.float32).tolist()],
            anns_field="dense",
            limit=n,
            search_params=params,
            output_fields=["id"],
        )
        return [(int(h["id"]), float(h["distance"])) for h in res[0]]

    def bm25_search(self, question: str, n: int) -> list[tuple[int, float]]:
        n = min(n, len(self.chunks))
        terms = [t for t in bm25_tokens([question])[0] if t in self._df]
        if not terms or n <= 0:
            return []
        res = self.backend._call(
            self._client().search,
            self.generation,
            data=[" ".join(terms)],
            anns_field="sparse",
            limit=n,
            search_params={"metric_type": "BM25"},
            output_fields=["id"],
        )
        # Milvus scores BM25 with Robertson's (k1 + 1) factor, which bm25s (Lucene's variant)
        # leaves out: divide it back out so both backends report one scale. Milvus Lite
        # reports the score negated (as a distance): it is never negative.
        scale = 1.0 + BM25_PARAMS["bm25_k1"]
        hits = [(int(h["id"]), abs(float(h["distance"])) / scale) for h in res[0]]
        return [(i, s) for i, s in hits if s > 0]

    def chunk_vectors_for(self, chunk_indexes: list[int]) -> np.ndarray:
        ids = [int(i) for i in chunk_indexes]
        if not ids:
            return np.zeros((0, self.manifest.dim), np.float32)
        rows = self.backend._call(
            self._client().query, self.generation, ids=ids, output_fields=["id", "dense"]
        )
        by_id = {int(r["id"]): r["dense"] for r in rows}
        return np.asarray([by_id[i] for i in ids], dtype=np.float32)

    def sentence_vectors_for(self, chunk_indexes: list[int]) -> list[np.ndarray]:
        spans = [
            (self.sentence_offsets[ci], len(self.chunks[ci].sentences)) for ci in chunk_indexes
        ]
        ids = sorted({base + j for base, n in spans for j in range(n)})
        by_id: dict[int, list[float]] = {}
        for i in range(0, len(ids), BATCH):
            rows = self.backend._call(
                self._client().query,
                f"{self.generation}_sent",
                ids=ids[i : i + BATCH],
                output_fields=["id", "dense"],
            )
            by_id.update({int(r["id"]): r["dense"] for r in rows})
        dim = self.manifest.dim
        return [
            np.asarray([by_id[base + j] for j in range(n)], dtype=np.float32).reshape(n, dim)
            for base, n in spans
        ]

    def document_frequencies(self) -> dict[str, int]:
        return self._df

    def list_documents(self) -> list[ManifestDocument]:
        return list(self.manifest.documents)

    def is_stale(self) -> bool:
        """True once a build has switched the alias to another generation."""
        live = self.backend.live_generation()
        return live is not None and live != self.generation

    def reloaded(self) -> MilvusStore:
        return self.backend.load() if self.is_stale() else self
