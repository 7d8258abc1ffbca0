"""The arithmetic the MiniLM forward passes run in: fp32, or bf16 where the CPU does bf16
in hardware (Intel AMX tiles or AVX-512 BF16; ``torch.autocast`` then sends the Linear and
attention matrix products to oneDNN's bf16 kernels, accumulating in fp32, while LayerNorm,
softmax and pooling stay fp32).

Measured here (tools/bench/bench_reader.py, compare_eval.py precision, docs/benchmarks.md):
about twice the speed of fp32 for the reader and the embedder, vectors within cosine 0.99996
of fp32's and the answer figures unchanged. Where the CPU has no bf16 unit, "auto" means fp32:
emulated bf16 is slower.

And how many threads one question's forward passes use (``threads``): torch's default is one
per core, and on a busy machine (another process, a second user's question, an upload being
indexed) its OpenMP threads wait for each other at every operation. Measured on this 2-core
machine under load 6: one question embedded in 700 ms on 2 threads against 11 ms on 1; the
reader's 12 candidates in 690 ms against 123 ms (bf16).
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Literal

Precision = Literal["auto", "fp32", "bf16"]


@lru_cache(maxsize=1)
def bf16_in_hardware() -> bool:
    """True where this CPU runs bf16 matrix products natively (AMX or AVX-512 BF16)."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):  # an older or newer torch without the probes
        return False


def resolve(precision: str) -> Literal["fp32", "bf16"]:
    """The precision to run: "auto" is bf16 where the hardware has it, else fp32."""
    if precision == "auto":
        return "bf16" if bf16_in_hardware() else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    return precision  # type: ignore[return-value]


def autocast(precision: str):
    """A context for the forward pass: bf16 autocast, or nothing for fp32."""
    if resolve(precision) == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


@contextlib.contextmanager
def threads(n: int | None):
    """torch's intra-op threads set to ``n`` for the block (None or 0: leave them)."""
    if not n:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
