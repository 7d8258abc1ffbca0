"""Writing one generation of the Milvus backend (index/milvus_store.py reads it): its three
collections (chunks with a BM25 function, sentences, JSON blobs), filled, then switched to by
moving the ``<prefix>_live`` alias."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable

import numpy as np

from ncpi_qa.index.dense import HNSW_M
from ncpi_qa.index.lexical import bm25_tokens, document_frequencies
from ncpi_qa.index.manifest import Manifest
from ncpi_qa.ingest.chunking import Chunk
from ncpi_qa.ingest.documents import Document

PART_CHARS = 16_000  # 4 bytes a character at most: within a 65,535-byte VARCHAR
BATCH = 1000
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults (Milvus's own k1 is 1.2)
logger = logging.getLogger(__name__)


class MilvusWriter:
    def __init__(self, backend) -> None:
        self.backend = backend  # the MilvusBackend it writes for
        self.docs: dict[str, tuple[Document, list[Chunk], np.ndarray, np.ndarray]] = {}

    def put_document(self, doc, chunks, chunk_vecs, sent_vecs) -> None:
        self.docs.pop(doc.doc_id, None)
        self.docs[doc.doc_id] = (doc, chunks, chunk_vecs, sent_vecs)

    def delete_document(self, doc_id: str) -> None:
        self.docs.pop(doc_id, None)

    def commit(self, manifest: Manifest, checkpoint: Callable[[str], None]) -> None:
        b = self.backend
        stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}_{time.perf_counter_ns() % 10**6}"
        gen = f"{b.prefix}_g{stamp}"
        previous = b.live_generation()
        manifest.previous_generation = previous
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

    def _write(self, gen: str, manifest: Manifest) -> None:
        client = self.backend.client
        parts = list(self.docs.values())
        chunks = [c for _, cs, _, _ in parts for c in cs]
        cvecs = np.concatenate([cv for _, _, cv, _ in parts]).astype(np.float32, copy=False)
        svecs = np.concatenate([sv for _, _, _, sv in parts]).astype(np.float32, copy=False)
        hnsw = len(chunks) > self.backend.settings.exact_search_max
        manifest.milvus_index = "hnsw" if hnsw else "flat"
        _create_collections(client, gen, int(cvecs.shape[1]), hnsw)
        tokens = bm25_tokens([c.embed_text() for c in chunks])
        rows = [
            {"id": i, "doc_id": c.doc_id, "terms": " ".join(t), "dense": v.tolist()}
            for i, (c, t, v) in enumerate(zip(chunks, tokens, cvecs, strict=True))
        ]
        _insert(client, gen, rows)
        owner = [ci for ci, c in enumerate(chunks) for _ in c.sentences]
        sentences = [
            {"id": i, "chunk": ci, "dense": v.tolist()}
            for i, (ci, v) in enumerate(zip(owner, svecs, strict=True))
        ]
        _insert(client, f"{gen}_sent", sentences)
        blobs = {
            "documents": [d.to_dict() for d, _, _, _ in parts],
            "chunks": [c.to_dict() for c in chunks],
            "df": document_frequencies(tokens),
            "manifest": manifest.model_dump(mode="json"),  # last: with a manifest it is whole
        }
        for key, value in blobs.items():
            pieces = _parts(json.dumps(value, ensure_ascii=False))
            rows = [{"key": f"{key}#{i}", "data": p, "v": [0.0, 0.0]} for i, p in enumerate(pieces)]
            rows.append({"key": f"{key}#n", "data": str(len(pieces)), "v": [0.0, 0.0]})
            _insert(client, f"{gen}_blob", rows, batch=64)
        for name in (gen, f"{gen}_sent", f"{gen}_blob"):
            client.flush(name)


def _create_collections(client, gen: str, dim: int, hnsw: bool) -> None:
    """The generation's chunk, sentence and blob collections, empty, with their indexes."""
    from pymilvus import DataType

    client.create_collection(
        gen,
        schema=_chunk_schema(client, dim),
        index_params=_chunk_index(client, hnsw),
        consistency_level="Strong",
    )
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


def _chunk_schema(client, dim: int):
    """One row per chunk: its id, document, BM25 terms (Milvus makes the sparse vector from
    them with its BM25 function) and dense vector."""
    from pymilvus import DataType, Function, FunctionType

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
    return schema


def _chunk_index(client, hnsw: bool):
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
    return index


def _parts(text: str) -> list[str]:
    return [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]


def _insert(client, name: str, rows: list[dict], batch: int = BATCH) -> None:
    for i in range(0, len(rows), batch):
        client.insert(name, rows[i : i + batch])
