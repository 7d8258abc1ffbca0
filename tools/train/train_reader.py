"""Fine-tune the reader (qa/reader.py) from all-MiniLM-L6-v2's weights on SQuAD, on a time budget.

    python tools/train/train_reader.py [--data DIR] [--minutes M] [--work DIR] [--resume]
                                       [--device cpu|cuda] [--out FILE]

Data (CC BY-SA 4.0, shared/data/squad2): the whole train split (v1.1), the train-10 file's
unanswerable questions, and the dev articles of the ``fit`` part (evals/squad.py split);
tools/train/reader_data.py makes the pairs. Loss: binary cross-entropy on the [CLS] logit
(does this sentence answer the question?) plus the span's start/end cross-entropy on the
positives. The learning rate warms up and then decays linearly with the share of the time
budget spent, so a short budget still ends on a decayed model. Snapshots of the weights are
written after 1/8, 1/4, 1/2 and all of the budget (the learning curve: tools/train/curve.py),
and a checkpoint (weights, optimiser, position in the data) every ``--checkpoint-minutes``;
``--resume`` continues from it. Fixed seed; the data order is fixed by the seed, how far a
budget gets depends on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from reader_data import build_pairs, join_unanswerable, read_json
from train_data import log

from ncpi_qa.evals import squad
from ncpi_qa.qa.reader import (
    CONTEXT_FORMAT,
    READER,
    make_tokenizer,
    reader_text,
    sentence_token_mask,
)
from ncpi_qa.settings import project_root

DATA = project_root().parent / "shared" / "data" / "squad2"
SEED = 20261202
FRACTIONS = (0.125, 0.25, 0.5, 1.0)


def load_articles(data: Path, unanswerable: bool = True) -> list[dict]:
    train = read_json(data / "train-v1.1-answerable-from-squad-explorer.json.gz")
    rebuilt = data / "train-v2.0-unanswerable-rebuilt.json.gz"
    if unanswerable and rebuilt.exists():  # SQuAD 2.0 train's real look-alikes
        join_unanswerable(train, read_json(rebuilt), log=log)
    t10 = read_json(data / "train-v2.0-10-articles.json")
    # train-10's unanswerable questions only: its answerable ones are in the v1.1 file.
    for art in t10:
        for p in art["paragraphs"]:
            p["qas"] = [q for q in p["qas"] if q.get("is_impossible")]
    dev = squad.load_dev(data)
    fit = set(squad.split_titles([a.title for a in dev])["fit"])
    dev_fit = [{"title": a.title, "paragraphs": a.paragraphs} for a in dev if a.title in fit]
    log(f"articles: {len(train)} train, {len(t10)} train-10 (unanswerable), {len(dev_fit)} dev fit")
    return train + t10 + dev_fit


def tokenize(pairs, tok):
    """Token ids, type ids and the span's token positions (-1: none / not trained)."""
    texts = [reader_text(p.heading, p.sentence, p.previous, CONTEXT_FORMAT) for p in pairs]
    encs = tok.encode_batch([(p.question, t) for p, (t, _) in zip(pairs, texts, strict=True)])
    rows = []
    for p, (_, off), e in zip(pairs, texts, encs, strict=True):
        si = ei = -1
        if p.span is not None:
            a, b = p.span[0] + off, p.span[1] + off
            ok = sentence_token_mask(e, off)
            toks = [i for i, o in enumerate(e.offsets) if ok[i] and o[0] < b and o[1] > a]
            if toks:
                si, ei = toks[0], toks[-1]
        rows.append((e.ids, e.type_ids, p.label, si, ei))
    return rows


def batches(rows, batch: int, seed: int):
    """Length-bucketed batches in a seeded order (little padding, any prefix a fair sample)."""
    rng = np.random.default_rng(seed)
    out = []
    block = batch * 50
    for b in range(0, len(rows), block):
        idx = sorted(range(b, min(b + block, len(rows))), key=lambda i: len(rows[i][0]))
        out += [idx[i : i + batch] for i in range(0, len(idx), batch)]
    rng.shuffle(out)
    return out


class ReaderModel:
    def __init__(self, base: Path, device: str, freeze_layers: int):
        import torch
        from transformers import BertModel

        self.torch = torch
        self.bert = BertModel.from_pretrained(str(base), add_pooling_layer=False).to(device)
        h = self.bert.config.hidden_size
        self.cls = torch.nn.Linear(h, 1).to(device)
        self.span = torch.nn.Linear(h, 2).to(device)
        for m in (self.cls, self.span):
            torch.nn.init.normal_(m.weight, std=0.02)
            torch.nn.init.zeros_(m.bias)
        frozen = [self.bert.embeddings] + list(self.bert.encoder.layer[:freeze_layers])
        for mod in frozen:
            for prm in mod.parameters():
                prm.requires_grad_(False)
        self.device = device

    def parameters(self):
        body = [p for p in self.bert.parameters() if p.requires_grad]
        return body, list(self.cls.parameters()) + list(self.span.parameters())

    def state(self) -> dict:
        sd = {k: v for k, v in self.bert.state_dict().items() if "position_ids" not in k}
        sd.update({f"cls.{k}": v for k, v in self.cls.state_dict().items()})
        sd.update({f"span.{k}": v for k, v in self.span.state_dict().items()})
        return sd

    def load_state(self, sd: dict) -> None:
        self.cls.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("cls.")})
        self.span.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("span.")})
        body = {k: v for k, v in sd.items() if not k.startswith(("cls.", "span."))}
        res = self.bert.load_state_dict(body, strict=False)
        missing = [k for k in res.missing_keys if "position_ids" not in k]
        if missing or res.unexpected_keys:
            raise ValueError(f"reader weights do not fit: {missing[:3]} {res.unexpected_keys[:3]}")

    def forward(self, ids, types, mask):
        h = self.bert(input_ids=ids, token_type_ids=types, attention_mask=mask).last_hidden_state
        return self.cls(h[:, 0])[:, 0], self.span(h)


def save_weights(model: ReaderModel, path: Path, meta: dict) -> None:
    from safetensors.torch import save_file

    sd = {k: v.detach().to("cpu").half().contiguous() for k, v in model.state().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(sd, str(tmp), metadata={k: str(v) for k, v in meta.items()})
    tmp.replace(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--minutes", type=float, default=90.0, help="training time budget")
    ap.add_argument("--work", type=Path, default=project_root() / "build" / "reader")
    ap.add_argument("--out", type=Path, default=READER)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--freeze-layers", type=int, default=1)
    ap.add_argument("--checkpoint-minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--init", type=Path, help="start from these reader weights (a continuation)")
    ap.add_argument("--seed", type=int, default=SEED, help="data order (a continuation: another)")
    ap.add_argument(
        "--synth-share", type=float, default=0.0,
        help="share of answerable questions that also get a synthetic look-alike (reader_data)",
    )  # fmt: skip
    ap.add_argument("--head-lr-mult", type=float, default=10.0, help="heads' lr over the body's")
    ap.add_argument(
        "--ans-keep", type=float, default=1.0,
        help="share of answerable questions kept (0.5: about as many as look-alikes)",
    )  # fmt: skip
    ap.add_argument("--elsewhere-share", type=float, default=1.0)
    ap.add_argument("--no-unanswerable", action="store_true", help="v1.1 train only")
    args = ap.parse_args(argv)
    import torch

    from ncpi_qa.index.embedding import BUNDLED, model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    base = model_path(BUNDLED)
    args.work.mkdir(parents=True, exist_ok=True)
    t_data = time.perf_counter()
    pairs = build_pairs(
        load_articles(args.data, not args.no_unanswerable),
        args.seed,
        log=log,
        synth_share=args.synth_share,
        ans_keep=args.ans_keep,
        elsewhere_share=args.elsewhere_share,
    )
    kinds = {k: sum(p.kind == k for p in pairs) for k in sorted({p.kind for p in pairs})}
    rows = tokenize(pairs, make_tokenizer(base))
    order = batches(rows, args.batch, args.seed)
    log(
        f"{len(rows)} pairs {kinds}, {len(order)} batches, data {time.perf_counter() - t_data:.0f}s"
    )

    model = ReaderModel(base, args.device, args.freeze_layers)
    if args.init:
        from safetensors.torch import load_file

        model.load_state({k: v.float() for k, v in load_file(str(args.init)).items()})
        log(f"starting from {args.init}")
    body, heads = model.parameters()
    opt = torch.optim.AdamW(
        [{"params": body, "lr": args.lr}, {"params": heads, "lr": args.lr * args.head_lr_mult}],
        weight_decay=0.01,
    )
    base_lrs = [g["lr"] for g in opt.param_groups]
    budget = args.minutes * 60
    step, spent, seen, done = 0, 0.0, 0, set()
    ckpt = args.work / "checkpoint.pt"
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, map_location=args.device, weights_only=False)
        model.load_state(state["model"])
        opt.load_state_dict(state["opt"])
        step, spent, seen, done = state["step"], state["spent"], state["seen"], set(state["done"])
        log(f"resumed at step {step}, {spent / 60:.1f} of {args.minutes} minutes")
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss(ignore_index=-1)
    curve_meta = {
        "seed": args.seed,
        "minutes": args.minutes,
        "device": args.device,
        "synth_share": args.synth_share,
        "init": str(args.init or ""),
        "reader_format": CONTEXT_FORMAT,
        "ans_keep": args.ans_keep,
        "unanswerable": not args.no_unanswerable,
    }
    t_last, t_ckpt, window = time.perf_counter(), time.perf_counter(), []
    model.bert.train()
    while spent < budget and step < len(order):
        idx = order[step]
        width = max(len(rows[i][0]) for i in idx)
        ids = torch.zeros((len(idx), width), dtype=torch.long)
        types, mask = torch.zeros_like(ids), torch.zeros_like(ids)
        for r, i in enumerate(idx):
            n = len(rows[i][0])
            ids[r, :n], types[r, :n], mask[r, :n] = (
                torch.tensor(rows[i][0]),
                torch.tensor(rows[i][1]),
                1,
            )
        y = torch.tensor([rows[i][2] for i in idx], dtype=torch.float32)
        st = torch.tensor([rows[i][3] for i in idx])
        en = torch.tensor([rows[i][4] for i in idx])
        dev = args.device
        frac = spent / budget
        warm = 0.05
        scale = min(1.0, (frac + 1e-4) / warm) * max(0.02, (1 - frac) / (1 - warm))
        for g, lr in zip(opt.param_groups, base_lrs, strict=True):
            g["lr"] = lr * min(1.0, scale)
        logit, se = model.forward(ids.to(dev), types.to(dev), mask.to(dev))
        neg = (1 - mask.to(dev)) * -1e4
        loss = bce(logit, y.to(dev))
        if (st >= 0).any():
            s_log, e_log = se[..., 0] + neg, se[..., 1] + neg
            loss = loss + 0.5 * (ce(s_log, st.to(dev)) + ce(e_log, en.to(dev)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(body + heads, 1.0)
        opt.step()
        now = time.perf_counter()
        spent += now - t_last
        t_last = now
        step += 1
        seen += len(idx)
        window.append(float(loss))
        if step % 100 == 0:
            log(
                f"step {step}: loss {np.mean(window):.4f}, {seen} pairs, "
                f"{seen / max(spent, 1e-9):.1f} pairs/s, {spent / 60:.1f}/{args.minutes} min"
            )
            window = []
        for f in FRACTIONS:
            if f not in done and (spent >= f * budget or step == len(order)):
                done.add(f)
                meta = {
                    **curve_meta,
                    "fraction": f,
                    "step": step,
                    "pairs": seen,
                    "seconds": round(spent, 1),
                }
                save_weights(model, args.work / f"reader-{f:g}.safetensors", meta)
                (args.work / f"reader-{f:g}.json").write_text(json.dumps(meta))
                log(f"snapshot at {f:g} of the budget: {seen} pairs, step {step}")
        if now - t_ckpt > args.checkpoint_minutes * 60:
            torch.save(
                {
                    "model": model.state(),
                    "opt": opt.state_dict(),
                    "step": step,
                    "spent": spent,
                    "seen": seen,
                    "done": sorted(done),
                },
                ckpt.with_suffix(".tmp"),
            )
            ckpt.with_suffix(".tmp").replace(ckpt)
            t_ckpt = time.perf_counter()
    meta = {
        **curve_meta,
        "step": step,
        "pairs": seen,
        "seconds": round(spent, 1),
        "pairs_total": len(rows),
    }
    save_weights(model, args.out, meta)
    (args.work / "reader-final.json").write_text(json.dumps(meta))
    log(f"wrote {args.out}: {seen} pairs in {spent / 60:.1f} min ({seen / max(spent, 1):.1f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
