"""The Milvus connection and the one-writer rule of a Milvus index.

Milvus has no lock, so a build holds a *lease*: one row in ``<prefix>_writer`` naming the
holder (pid, host, a random id) and when it expires. A build takes it only when it is absent,
expired, or left by a process on this host that no longer runs (kill -9), then reads it back
to check it won; it renews it every third of ``milvus_lease_seconds`` and deletes it at the
end. Two builds starting in the same fraction of a second could both pass the check-then-write
(Milvus has no compare-and-set): run one writer at a time (the single-writer rule, docs/
scaling.md); the lease turns the ordinary mistake, a second `ncpi-qa index` while one runs,
into a clear IndexWriterBusyError.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

from ncpi_qa.errors import IndexWriterBusyError, VectorStoreUnavailableError

_CLIENTS: dict[tuple[str, str], object] = {}
_CLIENTS_LOCK = threading.Lock()
LEASE_KEY = "writer"


def milvus_client(uri: str, token: str | None):
    """One pymilvus MilvusClient per server and login for the process."""
    key = (uri, token or "")
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise VectorStoreUnavailableError(
                    uri, "the pymilvus client is not installed"
                ) from None
            try:
                client = MilvusClient(uri=uri, token=token or "", timeout=10)
            except Exception as e:  # pymilvus raises MilvusException or grpc errors
                raise VectorStoreUnavailableError(uri, f"{type(e).__name__}: {e}") from e
            _CLIENTS[key] = client
        return client


def _holder_alive(holder: dict) -> bool:
    """False only when the holder ran on this host and its process is gone."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def _describe(holder: dict) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')}"


class WriterLease:
    def __init__(self, client, collection: str, ttl: float, where: str) -> None:
        self.client, self.collection, self.ttl, self.where = client, collection, ttl, where
        self.me = {"pid": os.getpid(), "host": socket.gethostname(), "id": uuid.uuid4().hex}

    def _ensure_collection(self) -> None:
        from pymilvus import DataType

        if self.client.has_collection(self.collection):
            return
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("holder", DataType.VARCHAR, max_length=1024)
        schema.add_field("expires_ms", DataType.INT64)
        schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus needs a vector field
        index = self.client.prepare_index_params()
        index.add_index(field_name="v", index_type="FLAT", metric_type="L2")
        with contextlib.suppress(Exception):  # another build may create it at the same time
            self.client.create_collection(
                self.collection, schema=schema, index_params=index, consistency_level="Strong"
            )

    def _read(self) -> tuple[dict, int] | None:
        rows = self.client.query(self.collection, ids=[LEASE_KEY], output_fields=["*"])
        if not rows:
            return None
        return json.loads(rows[0]["holder"]), int(rows[0]["expires_ms"])

    def _write(self) -> None:
        expires = int((time.time() + self.ttl) * 1000)
        row = {
            "key": LEASE_KEY,
            "holder": json.dumps(self.me),
            "expires_ms": expires,
            "v": [0.0, 0.0],
        }
        self.client.upsert(self.collection, [row])

    def _try_take(self) -> dict | None:
        """None when taken; else the live holder in the way."""
        now = time.time() * 1000
        cur = self._read()
        if cur is not None:
            holder, expires = cur
            if holder.get("id") != self.me["id"] and expires > now and _holder_alive(holder):
                return holder
        self._write()
        time.sleep(0.05)  # let a racing writer's upsert land, then see who holds it
        cur = self._read()
        if cur is None or cur[0].get("id") != self.me["id"]:
            return cur[0] if cur else {"pid": "?", "host": "?"}
        return None

    @contextlib.contextmanager
    def held(self, timeout: float, log=None) -> Iterator[None]:
        self._ensure_collection()
        t0, said = time.monotonic(), False
        while True:
            other = self._try_take()
            if other is None:
                break
            waited = time.monotonic() - t0
            if waited >= timeout:
                raise IndexWriterBusyError(self.where, waited, _describe(other))
            if not said and log is not None:
                log(
                    f"Another build is writing the index {self.where} ({_describe(other)}); "
                    f"waiting up to {timeout:.0f}s for it to finish..."
                )
                said = True
            time.sleep(min(0.5, max(timeout - waited, 0.01)))
        stop = threading.Event()
        renew = threading.Thread(target=self._renew, args=(stop,), daemon=True)
        renew.start()
        try:
            yield
        finally:
            stop.set()
            renew.join(5)
            with contextlib.suppress(Exception):  # an expired lease frees itself anyway
                cur = self._read()
                if cur is not None and cur[0].get("id") == self.me["id"]:
                    self.client.delete(self.collection, ids=[LEASE_KEY])

    def _renew(self, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            with contextlib.suppress(Exception):  # a missed renewal is retried next time
                self._write()
