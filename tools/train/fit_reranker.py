"""Fine-tune all-MiniLM-L6-v2's weights as a (question, sentence) cross-encoder.

Trained through the same lean BERT forward pass that serves it (index/minilm.py), so what
is trained is exactly what runs. Pointwise logistic loss: for an answerable question, the
sentence that holds the answer is a positive and the first-stage ranker's best wrong
sentences are hard negatives; an unanswerable question's best-looking sentences (SQuAD 2.0's
adversarial look-alikes, often holding the ``plausible_answer``) are negatives.
"""

from __future__ import annotations

import random
import time

import numpy as np


def make_pairs(items, stage1_logits, n_neg: int = 3, seed: int = 0):
    """(question, sentence, label) pairs from featurised questions and first-stage scores."""
    pairs = []
    for it, logits in zip(items, stage1_logits, strict=True):
        if not len(it.x):
            continue
        order = np.argsort(-logits, kind="stable")
        pos = [i for i in range(len(it.y)) if it.y[i] > 0]
        if not it.unanswerable and not pos:
            continue
        for i in pos[:1]:
            pairs.append((it.question, it.texts[i], 1.0))
        negs = [i for i in order if it.y[i] == 0][:n_neg]
        pairs += [(it.question, it.texts[i], 0.0) for i in negs]
    random.Random(seed).shuffle(pairs)
    return pairs


def fit_cross_encoder(
    pairs, base, out, seed: int, epochs: int = 1, batch: int = 16, lr: float = 4e-5, log=print
):
    import torch
    from safetensors.torch import load_file, save_file

    from ncpi_qa.index.minilm import MiniLMEncoder
    from ncpi_qa.qa.reranker import MAX_TOKENS

    torch.manual_seed(seed)
    enc = MiniLMEncoder(base, max_seq_length=MAX_TOKENS)
    w = {
        k: v.clone().requires_grad_(v.is_floating_point())
        for k, v in load_file(str(base / "model.safetensors")).items()
    }
    enc.w = w
    head_w = (torch.randn(1, enc.hidden) * 0.02).requires_grad_(True)
    head_b = torch.zeros(1, requires_grad=True)
    body = [v for k, v in w.items() if "pooler" not in k and v.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": body, "lr": lr}, {"params": [head_w, head_b], "lr": lr * 25}],
        weight_decay=0.01,
    )
    steps = epochs * ((len(pairs) + batch - 1) // batch)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm))
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    t0, step = time.perf_counter(), 0
    for _ in range(epochs):
        for b in range(0, len(pairs), batch):
            chunk = pairs[b : b + batch]
            e = enc.tok.encode_batch([(q, s) for q, s, _ in chunk])
            ids = torch.tensor([x.ids for x in e])
            mask = torch.tensor([x.attention_mask for x in e])
            types = torch.tensor([x.type_ids for x in e])
            cls = enc.hidden_states(ids, mask, types)[:, 0]
            logits = (cls @ head_w.T + head_b)[:, 0]
            loss = loss_fn(logits, torch.tensor([y for _, _, y in chunk]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + [head_w, head_b], 1.0)
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == steps:
                rate = step * batch / (time.perf_counter() - t0)
                log(f"reranker step {step}/{steps}: loss {float(loss):.4f}, {rate:.1f} pairs/s")
    weights = {
        k: (v.detach().half() if v.is_floating_point() else v).contiguous()
        for k, v in w.items()
        if "pooler" not in k
    }
    weights["head.weight"] = head_w.detach().half().contiguous()
    weights["head.bias"] = head_b.detach().half().contiguous()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    save_file(weights, str(tmp))
    tmp.replace(out)
    return time.perf_counter() - t0
