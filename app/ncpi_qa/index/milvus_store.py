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
import logging
import os
import time
from collections.abc import Callable

import numpy as np

from ncpi_qa.errors import IndexIncompatibleError, NoIndexError, VectorStoreUnavailableError
from ncpi_qa.index.dense import HNSW_EF_SEARCH, HNSW_M
from ncpi_qa.index.generations import FORMAT_VERSION, sentence_offsets, store_lock
from ncpi_qa.index.lexical import bm25_tokens, document_frequencies
from ncpi_qa.index.milvus_lease import WriterLease, milvus_client
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.ingest.documents import Document
from ncpi_qa.settings import Settings

PART_CHARS = 16_000  # 4 bytes a character at most: within a 65,535-byte VARCHAR
BATCH = 1000
logger = logging.getLogger(__name__)
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults (Milvus's own k1 is 1.2)


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

    def read_manifest(self) -> dict | None:
        gen = self.live_generation()
        return read_blob(self.client, gen, "manifest") if gen else None

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
            keep.add((read_blob(self.client, live, "manifest") or {}).get("previous_generation"))
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


def _parts(text: str) -> list[str]:
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


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


class MilvusWriter:
    def __init__(self, backend: MilvusBackend) -> None:
        self.backend = backend
        self.docs: dict[str, tuple[Document, list[Chunk], np.ndarray, np.ndarray]] = {}

    def put_document(self, doc, chunks, chunk_vecs, sent_vecs) -> None:
        self.docs.pop(doc.doc_id, None)
        self.docs[doc.doc_id] = (doc, chunks, chunk_vecs, sent_vecs)

    def delete_document(self, doc_id: str) -> None:
        self.docs.pop(doc_id, None)

    def commit(self, manifest: dict, checkpoint: Callable[[str], None]) -> None:
        b = self.backend
        stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}_{time.perf_counter_ns() % 10**6}"
        gen = f"{b.prefix}_g{stamp}"
        previous = b.live_generation()
        manifest["previous_generation"] = previous
        switched = False
        try:
            b._call(self._write, gen, manifest)
            checkpoint("written")
            if previous is None:
                b._call(b.client.create_alias, gen, b.alias)
            else:
                b._call(b.client.alter_alias, gen, b.alias)  # the atomic switch
            switched = True
        except BaseException:
            if not switched:  # the alias still names the previous generation: drop ours
                try:
                    b.drop_generation(gen)
                except Exception:  # noqa: BLE001 - the next build's clean_leftovers drops it
                    logger.warning("could not drop the unfinished %s", gen, exc_info=True)
            raise
        checkpoint("switched")
        for old in b.generations():
            if old not in (gen, previous):
                b.drop_generation(old)

    def _write(self, gen: str, manifest: dict) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.backend.client
        parts = list(self.docs.values())
        chunks = [c for _, cs, _, _ in parts for c in cs]
        cvecs = np.concatenate([cv for _, _, cv, _ in parts]).astype(np.float32, copy=False)
        svecs = np.concatenate([sv for _, _, _, sv in parts]).astype(np.float32, copy=False)
        dim = int(cvecs.shape[1])
        hnsw = len(chunks) > self.backend.settings.exact_search_max
        manifest["milvus_index"] = "hnsw" if hnsw else "flat"

        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
        schema.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=65535,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        if hnsw:
            index.add_index(
                field_name="dense",
                index_type="HNSW",
                metric_type="IP",
                params={"M": HNSW_M, "efConstruction": 200},
            )
        else:
            index.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
        index.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params=BM25_PARAMS,
        )
        client.create_collection(gen, schema=schema, index_params=index, consistency_level="Strong")

        sent = client.create_schema(auto_id=False)
        sent.add_field("id", DataType.INT64, is_primary=True)
        sent.add_field("chunk", DataType.INT64)
        sent.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        sindex = client.prepare_index_params()
        sindex.add_index(field_name="dense", index_type="FLAT", metric_type="IP")
        client.create_collection(
            f"{gen}_sent", schema=sent, index_params=sindex, consistency_level="Strong"
        )

        blob = client.create_schema(auto_id=False)
        blob.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
        blob.add_field("data", DataType.VARCHAR, max_length=65535)
        blob.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        bindex = client.prepare_index_params()
        bindex.add_index(field_name="v", index_type="FLAT", metric_type="L2")
        client.create_collection(
            f"{gen}_blob", schema=blob, index_params=bindex, consistency_level="Strong"
        )

        tokens = bm25_tokens([c.embed_text() for c in chunks])
        rows = [
            {"id": i, "doc_id": c.doc_id, "terms": " ".join(t), "dense": v.tolist()}
            for i, (c, t, v) in enumerate(zip(chunks, tokens, cvecs, strict=True))
        ]
        _insert(client, gen, rows)
        owner = [ci for ci, c in enumerate(chunks) for _ in c.sentences]
        _insert(
            client,
            f"{gen}_sent",
            [
                {"id": i, "chunk": ci, "dense": v.tolist()}
                for i, (ci, v) in enumerate(zip(owner, svecs, strict=True))
            ],
        )
        blobs = {
            "documents": [d.to_dict() for d, _, _, _ in parts],
            "chunks": [c.to_dict() for c in chunks],
            "df": document_frequencies(tokens),
            "manifest": manifest,  # last: a generation with a manifest is whole
        }
        for key, value in blobs.items():
            pieces = _parts(json.dumps(value, ensure_ascii=False))
            rows = [{"key": f"{key}#{i}", "data": p, "v": [0.0, 0.0]} for i, p in enumerate(pieces)]
            rows.append({"key": f"{key}#n", "data": str(len(pieces)), "v": [0.0, 0.0]})
            _insert(client, f"{gen}_blob", rows, batch=64)
        for name in (gen, f"{gen}_sent", f"{gen}_blob"):
            client.flush(name)


def _insert(client, name: str, rows: list[dict], batch: int = BATCH) -> None:
    for i in range(0, len(rows), batch):
        client.insert(name, rows[i : i + batch])


class MilvusStore:
    """A loaded generation on Milvus: text in memory, vectors and searches on the server."""

    def __init__(self, backend, generation, manifest, documents, chunks, df) -> None:
        self.backend, self.generation = backend, generation
        self.manifest, self.documents, self.chunks = manifest, documents, chunks
        self.sentence_offsets = sentence_offsets(chunks)
        self._df = df
        self._hnsw = manifest.get("milvus_index") == "hnsw"

    @classmethod
    def load(cls, backend: MilvusBackend, gen: str) -> MilvusStore:
        client = backend.client
        manifest = backend._call(read_blob, client, gen, "manifest")
        if manifest is None or manifest.get("format_version") != FORMAT_VERSION:
            raise IndexIncompatibleError(backend.describe(), "it was built by another version")
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
            return np.zeros((0, int(self.manifest["dim"])), np.float32)
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
        dim = int(self.manifest["dim"])
        return [
            np.asarray([by_id[base + j] for j in range(n)], dtype=np.float32).reshape(n, dim)
            for base, n in spans
        ]

    def document_frequencies(self) -> dict[str, int]:
        return self._df

    def list_documents(self) -> list[dict]:
        return list(self.manifest.get("documents", []))

    def is_stale(self) -> bool:
        """True once a build has switched the alias to another generation."""
        live = self.backend.live_generation()
        return live is not None and live != self.generation

    def reloaded(self) -> MilvusStore:
        return self.backend.load() if self.is_stale() else self
