"""Serving the chat app safely: loopback unless asked, Host checked, same-origin writes,
bounded request bodies, no client-given URLs, optional login with throttled attempts.

``Guard`` is a plain ASGI middleware placed in front of Gradio's app (through
``launch(app_kwargs={"middleware": ...})``), so it sees every request first.
"""

from __future__ import annotations

import ipaddress
import json
import math
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from ncpi_qa.errors import AuthFileError, RemoteBindRefusedError

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
UPLOAD_PATH = "/gradio_api/upload"
LOGIN_PATHS = ("/login", "/login/")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost (also written with the root's dot, ``localhost.``, and
    in any case), as the CLI reads them."""
    host = host.strip().lower()
    if host.rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> str | None:
    """None for loopback; a warning to print when remote is allowed; raises otherwise."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise RemoteBindRefusedError(host)
    return (
        f"Warning: listening on {host}, not just this machine. Anyone who can reach it can "
        "ask questions and add documents"
    )


def machine_names(host: str) -> set[str]:
    """Names a client may put in the Host header when the app listens on every interface
    (0.0.0.0 / ::): this machine's host names and addresses, from the local resolver."""
    if host not in ("0.0.0.0", "::", "[::]"):
        return set()
    import socket

    names: set[str] = set()
    try:
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        _, aliases, addresses = socket.gethostbyname_ex(hostname)
        names |= set(aliases) | set(addresses)
    except OSError:
        pass
    return {n.lower() for n in names if n}


def read_auth_file(path: Path) -> list[tuple[str, str]]:
    """'user:password' lines (blank lines and # comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise AuthFileError(f"Cannot read the auth file {path}: {e.strerror or e}") from e
    pairs = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or not password:
            raise AuthFileError(f"{path} line {n}: expected 'user:password'")
        pairs.append((user, password))
    if not pairs:
        raise AuthFileError(f"{path} has no 'user:password' line")
    return pairs


def _host_name(value: str) -> str:
    """'127.0.0.1:7860' -> '127.0.0.1'; '[::1]:7860' -> '::1'; 'localhost.:80' -> 'localhost'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return name[:-1] if name.endswith(".") and not name.endswith("..") else name


class LoginThrottle:
    """Failed logins counted per client address and per user name, each on its own.

    After ``free`` failures of a key, its next attempt must wait 1 s after the last failure,
    then 2, 4, 8 ... (capped at the lockout); after ``lockout`` failures the key is locked out
    for ``lockout_seconds``. An attempt that comes too soon is refused unchecked (the right
    password too), so guessing runs at the throttle's pace whatever the client does.
    Failures older than ``lockout_seconds`` are forgotten; a success clears its address and
    user. ``clock`` is injectable for tests."""

    MAX_KEYS = 10_000  # bounded memory under a flood of made-up user names

    def __init__(self, free: int = 3, lockout: int = 10, lockout_seconds: float = 900.0,
                 clock=time.monotonic) -> None:  # fmt: skip
        self.free = max(free, 0)
        self.lockout = max(lockout, 1)
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self.failures: dict[tuple[str, str], list[float]] = {}
        self.lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> LoginThrottle:
        return cls(
            settings.login_free_failures,
            settings.login_lockout_failures,
            settings.login_lockout_seconds,
        )

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self.failures.get(key, []) if now - t < self.lockout_seconds]
        if times:
            self.failures[key] = times
        else:
            self.failures.pop(key, None)
        return times

    def _wait(self, times: list[float], now: float) -> float:
        n = len(times)
        if n >= self.lockout:
            return times[-1] + self.lockout_seconds - now
        if n < self.free or not times:
            return 0.0
        return times[-1] + min(2.0 ** (n - self.free), self.lockout_seconds) - now

    def retry_after(self, address: str, user: str) -> float:
        """Seconds before this address and user may try again (0: now)."""
        now = self.clock()
        with self.lock:
            keys = [("addr", address), ("user", user)]
            return max(max(self._wait(self._recent(k, now), now), 0.0) for k in keys)

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        with self.lock:
            if len(self.failures) >= self.MAX_KEYS:  # forget the oldest keys first
                for key in sorted(self.failures, key=lambda k: self.failures[k][-1])[:1000]:
                    del self.failures[key]
            for key in (("addr", address), ("user", user)):
                self.failures.setdefault(key, []).append(now)
                del self.failures[key][: -self.lockout]

    def succeeded(self, address: str, user: str) -> None:
        with self.lock:
            self.failures.pop(("addr", address), None)
            self.failures.pop(("user", user), None)


def _urls_elsewhere(obj, host: str, depth: int = 0) -> bool:
    """True when a JSON payload names a file by a URL on another host (or a file: URL):
    Gradio would fetch it server-side. The app's own file URLs are fine."""
    if depth > 40:
        return True
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in ("path", "url") and isinstance(value, str) and "://" in value[:16]:
                parts = urlsplit(value)
                if parts.scheme not in ("http", "https") or (parts.netloc or "").lower() != host:
                    return True
            elif _urls_elsewhere(value, host, depth + 1):
                return True
    elif isinstance(obj, list):
        return any(_urls_elsewhere(v, host, depth + 1) for v in obj)
    return False


class Guard:
    """ASGI middleware: Host allow-list, same-origin writes, body size limits, no foreign URLs."""

    def __init__(self, app, allowed_hosts, max_body: int, max_upload: int, throttle=None) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in allowed_hosts} | LOOPBACK_NAMES
        self.max_body = max_body
        self.max_upload = max_upload
        self.throttle = throttle  # LoginThrottle; made from the app's settings on first use

    async def _refuse(self, send, status: int, message: str, headers=()) -> None:
        body = json.dumps({"error": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host_header = headers.get("host", "")
        if _host_name(host_header) not in self.allowed:
            if scope["type"] == "websocket":
                return await send({"type": "websocket.close", "code": 1008})
            return await self._refuse(send, 421, "Host not allowed")
        if scope["type"] == "websocket":
            return await self.app(scope, receive, send)
        method = scope["method"]
        if method in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        origin = headers.get("origin")
        if (
            origin
            and origin != "null"
            and (urlsplit(origin).netloc or "").lower() != host_header.lower()
        ):
            return await self._refuse(send, 403, "Cross-origin request refused")
        if origin == "null" or headers.get("sec-fetch-site") == "cross-site":
            return await self._refuse(send, 403, "Cross-origin request refused")
        path = scope.get("path", "")
        is_upload = path.rstrip("/").endswith(UPLOAD_PATH)
        limit = self.max_upload if is_upload else self.max_body
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await self._refuse(send, 413, f"Request too large (limit {limit} bytes)")
        if is_upload:
            return await self._stream_limited(scope, receive, send, limit)
        # Small JSON bodies: read them whole (bounded), check, then replay to Gradio.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await self._refuse(send, 413, f"Request too large (limit {limit} bytes)")
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body[:1] in (b"{", b"["):
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if payload is not None and _urls_elsewhere(payload, host_header.lower()):
                return await self._refuse(send, 400, "Files must be uploaded, not given as URLs")
        if method == "POST" and path.endswith(LOGIN_PATHS):
            return await self._login(scope, body, receive, send)
        return await self.app(scope, _replay(body, receive), send)

    def _throttle_for(self, scope) -> LoginThrottle:
        if self.throttle is None:
            settings = None
            try:  # the Gradio app's own settings (create_app keeps the QA on the Blocks)
                settings = scope["app"].get_blocks().holder.qa.settings
            except Exception:
                from ncpi_qa.settings import Settings

                settings = Settings()
            self.throttle = LoginThrottle.from_settings(settings)
        return self.throttle

    async def _login(self, scope, body: bytes, receive, send):
        """Gradio's /login behind the throttle: a client address or user name with too many
        recent failures is answered 429 (with Retry-After) without checking the password."""
        from starlette.requests import Request

        throttle = self._throttle_for(scope)
        address = (scope.get("client") or ("?", 0))[0]
        try:
            form = await Request(scope, _replay(body, receive)).form()
            user = str(form.get("username") or "").strip()
        except Exception:
            user = ""
        wait = throttle.retry_after(address, user)
        if wait > 0:
            seconds = math.ceil(wait)
            return await self._refuse(
                send,
                429,
                f"Too many failed logins; try again in {seconds} s.",
                [(b"retry-after", str(seconds).encode())],
            )
        # Counted as failed before the password is checked (so that attempts sent in
        # parallel are all counted), cleared again when it was right.
        throttle.failed(address, user)
        status = 0

        async def watched(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, _replay(body, receive), watched)
        if 200 <= status < 300:
            throttle.succeeded(address, user)

    async def _stream_limited(self, scope, receive, send, limit: int):
        size = 0

        async def counted():
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge()
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await self._refuse(send, 413, f"Upload too large (limit {limit} bytes)")


class _TooLarge(Exception):
    pass


def _replay(body: bytes, receive):
    """A receive() that gives ``body`` once, then what the client sends next."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
