"""Logins are throttled per client address and per user name (issue 17): a few wrong
passwords are free, then each attempt must wait longer, then the key is locked out."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from ncpi_qa.apps.chat.server import LoginThrottle

from .conftest import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_growing_delay_then_lockout_per_address_and_per_user():
    clock = Clock()
    t = LoginThrottle(free=3, lockout=6, lockout_seconds=60, clock=clock)
    for _ in range(3):
        assert t.retry_after("1.1.1.1", "ann") == 0
        t.failed("1.1.1.1", "ann")
    waits = []
    for _ in range(3):  # after the free ones: 1, 2, 4 s
        waits.append(t.retry_after("1.1.1.1", "ann"))
        clock.now += waits[-1]
        assert t.retry_after("1.1.1.1", "ann") == 0
        t.failed("1.1.1.1", "ann")
    assert waits == [1, 2, 4]
    # six failures: locked out for 60 s, by address (any user) and by user (any address)
    assert t.retry_after("1.1.1.1", "bob") == pytest.approx(60)
    assert t.retry_after("2.2.2.2", "ann") == pytest.approx(60)
    assert t.retry_after("2.2.2.2", "bob") == 0
    clock.now += 60
    assert t.retry_after("1.1.1.1", "ann") == 0  # forgotten after the lockout window


def test_success_clears_and_memory_is_bounded():
    t = LoginThrottle(free=1, lockout=5, lockout_seconds=60, clock=Clock())
    t.failed("1.1.1.1", "ann")
    assert t.retry_after("1.1.1.1", "ann") > 0
    t.succeeded("1.1.1.1", "ann")
    assert t.retry_after("1.1.1.1", "ann") == 0
    for n in range(LoginThrottle.MAX_KEYS + 10):
        t.failed("1.1.1.1", f"user{n}")
    assert len(t.failures) <= LoginThrottle.MAX_KEYS + 2


def _login(base: str, user: str, password: str) -> tuple[int, dict]:
    data = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with urllib.request.urlopen(base + "login", data=data, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_served_app_throttles_wrong_passwords(tmp_path, monkeypatch):
    """Through the real server (Gradio's /login behind the Guard): 50 wrong passwords in a
    row are not all checked; after the free ones the answer is 429 with Retry-After, even
    for the right password, until the wait is over."""
    import gradio as gr

    from ncpi_qa.apps.chat import app as ui
    from ncpi_qa.settings import Settings

    monkeypatch.setenv("NCPI_QA_LOGIN_FREE_FAILURES", "3")
    monkeypatch.setenv("NCPI_QA_LOGIN_LOCKOUT_FAILURES", "10")
    auth = tmp_path / "auth"
    auth.write_text("ann:right-pw\n")
    settings = Settings(auth_file=auth, store_dir=tmp_path / "store")
    with gr.Blocks() as demo:
        gr.Markdown("hi")
    port = free_port()
    ui.serve(demo, "127.0.0.1", port, settings=settings, prevent_thread_lock=True, quiet=True)
    base = f"http://127.0.0.1:{port}/"
    try:
        codes = [_login(base, "ann", "wrong")[0] for _ in range(3)]
        assert codes == [400, 400, 400]  # the free failures are checked as usual
        status, headers = _login(base, "ann", "right-pw")
        assert status == 429 and int(headers["retry-after"]) >= 1  # too soon: not checked
        t0 = time.monotonic()
        codes = [_login(base, "ann", "wrong")[0] for _ in range(50)]
        assert codes.count(400) == 0 and codes.count(429) == 50, codes
        assert time.monotonic() - t0 < 30
        time.sleep(1.2)  # the wait after the 3rd failure is over: one attempt is checked
        assert _login(base, "ann", "right-pw")[0] == 200
        assert _login(base, "ann", "wrong")[0] == 400  # the success cleared the count
    finally:
        demo.close()


def test_loopback_names_agree_with_the_cli(capsys):
    """One is_loopback: the launcher's check and the CLI's refusal read hosts the same way."""
    from ncpi_qa.apps import cli
    from ncpi_qa.apps.chat.server import _host_name, check_bind, is_loopback
    from ncpi_qa.errors import RemoteBindRefusedError

    for host in ("localhost", "localhost.", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1"):
        assert is_loopback(host), host
        assert check_bind(host, allow_remote=False) is None
    for host in ("0.0.0.0", "example.org", "localhost.evil.example", "10.0.0.1"):
        assert not is_loopback(host), host
        with pytest.raises(RemoteBindRefusedError):
            check_bind(host, allow_remote=False)
        assert cli.main(["app", "--host", host]) == 2  # refused before Gradio loads
        assert "Refusing to serve on " + host in capsys.readouterr().err
    assert _host_name("localhost.:7860") == "localhost"
