"""llama-index-core, a runtime dependency, imports offline: the interfaces the project builds on
load without any network call, file write, or the nltk/tiktoken data some of its splitters
fetch on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = r"""
import json, sys
seen = []

def hook(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto", "urllib.Request"):
        seen.append([event, repr(args)[:200]])
    elif event == "open" and isinstance(args[1], str) and any(m in args[1] for m in "wax+"):
        seen.append([event, str(args[0])])
    elif event == "os.mkdir":
        seen.append([event, str(args[0])])

sys.addaudithook(hook)
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode


class One(BaseRetriever):
    def _retrieve(self, query_bundle: QueryBundle):
        node = TextNode(text="In 2014.", start_char_idx=3, end_char_idx=11, metadata={"page": 2})
        return [NodeWithScore(node=node, score=0.5)]


got = One().retrieve("when?")[0]
print(json.dumps({
    "events": seen,
    "loaded": sorted({m.split(".")[0] for m in sys.modules} & {"nltk", "tiktoken", "torch"}),
    "node": [got.node.get_content(), got.node.start_char_idx, got.node.metadata, got.score],
    "engine": CustomQueryEngine.__name__,
}))
"""


def test_llama_index_core_imports_offline_without_downloads(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NLTK", "TIKTOKEN", "LLAMA"))}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # a fresh install may lack .pyc files: not a download
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["events"] == []  # no connection, no name lookup, nothing written
    assert out["loaded"] == []  # nltk and tiktoken (which fetch data), torch: none loaded
    assert out["node"] == ["In 2014.", 3, {"page": 2}, 0.5]
    assert list(tmp_path.iterdir()) == []  # no cache folder made under HOME
