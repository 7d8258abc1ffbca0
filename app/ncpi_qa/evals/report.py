"""Rendering an evaluation: the terminal table, and a self-contained HTML report (inline CSS,
plots as base64 PNGs, no scripts, no external links)."""

from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path

from ncpi_qa.evals.metrics import GATE, HIT_KS, MODES
from ncpi_qa.evals.report_tiers import tier_lines, tiers_html

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1d1d1f; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { margin-top: 1.8em; font-size: 1.25em; }
.meta { color: #555; font-size: .9em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f2f2f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #137333; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
img { max-width: 100%; border: 1px solid #e3e3e3; }
.fails td { max-width: 360px; word-wrap: break-word; }
.quote { color: #444; font-size: .85em; } .kind { white-space: nowrap; }
"""

METRICS = [
    ("answer_accuracy", "answerable questions answered correctly (abstaining counts wrong)"),
    ("false_abstention_rate", "answerable questions where the bot abstained"),
    ("abstention_accuracy", "unanswerable questions with nothing asserted (closest or none)"),
    ("citation_validity", "citations whose quote is exactly the document text at its offsets"),
    ("citation_precision", "citations (answerable rows with support) that overlap the support"),
    ("citation_recall", "answerable rows with support that have a supporting citation"),
    ("citation_page_accuracy", "supporting citations on rows with a page that cite that page"),
]


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}" if isinstance(v, float) else html.escape(str(v))


def _ms(v) -> str:
    return "n/a" if v is None else f"{v:.1f} ms"


def format_table(result: dict) -> str:
    lines = [
        f"Evaluated {result['n']} questions ({result['n_answerable']} answerable, "
        f"{result['n_unanswerable']} unanswerable); threshold {result.get('threshold')}",
        "",
    ]
    keys = [
        "answer_accuracy",
        "false_abstention_rate",
        "abstention_accuracy",
        "citation_validity",
        "citation_precision",
        "citation_recall",
    ]
    if "citation_page_accuracy" in result:
        keys.append("citation_page_accuracy")
    keys += [k for k in ("HasAns_accuracy", "NoAns_accuracy", "OOS_accuracy", "fusion_gain")
             if k in result]  # fmt: skip
    gates = result.get("gate") or GATE
    for key in keys:
        gate = f"  (gate >= {gates[key]:.2f})" if key in gates else ""
        lines.append(f"  {key:<24}{_fmt(result.get(key)):>8}{gate}")
    lat = result["latency_ms"]
    lines += [
        "",
        f"  latency_ms p50 {_ms(lat['p50'])}  p95 {_ms(lat['p95'])}",
        "",
        f"  {'retrieval':<10}" + "".join(f"{m:>8}" for m in (*[f"hit@{k}" for k in HIT_KS], "mrr")),
    ]
    for mode, m in result["retrieval"].items():
        lines.append(f"  {mode:<10}" + "".join(f"{_fmt(v):>8}" for v in m.values()))
    lines += tier_lines(result)
    if result.get("threshold_sweep"):
        lines += ["", "  threshold  answer_acc  abstain_acc  answered"]
        for p in result["threshold_sweep"]:
            mark = "  <- configured" if p["configured"] else ""
            lines.append(
                f"  {p['threshold']:>9.4f}  {_fmt(p['answer_accuracy']):>10}  "
                f"{_fmt(p['abstention_accuracy']):>11}  {_fmt(p['answered_rate']):>8}" + mark
            )
    if result.get("support_not_found"):
        lines += [
            "",
            "  support quote not found in any document: " + ", ".join(result["support_not_found"]),
        ]
    lines += ["", f"Failures ({len(result['failures'])}):"]
    for f in result["failures"]:
        got = f["got"].replace("\n", " ")
        lines.append(f"  {f['id']:<6} {f['kind']:<21} {f['question'][:70]}")
        lines.append(f"         expected {f['expected'][:90]}")
        lines.append(f"         got      {got[:90]}{'...' if len(got) > 90 else ''}")
    return "\n".join(lines)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _retrieval_plot(result: dict, plt) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = [f"hit@{k}" for k in HIT_KS] + ["mrr"]
    width = 0.8 / len(MODES)
    colors = {"bm25": "#8c6bb1", "dense": "#2b8cbe", "hybrid": "#e6550d"}
    for i, mode in enumerate(MODES):
        m = result["retrieval"].get(mode, {})
        vals = [m.get(n) or 0.0 for n in names]
        xs = [j + (i - (len(MODES) - 1) / 2) * width for j in range(len(names))]
        bars = ax.bar(xs, vals, width, label=mode, color=colors.get(mode))
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("share of answerable questions")
    ax.set_title("Retrieval of the chunk holding the support quote, by mode")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _latency_plot(result: dict, plt) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    lat = result.get("latencies_ms") or []
    if lat:
        ax.hist(lat, bins=min(30, max(5, len(lat) // 2)), color="#2b8cbe", edgecolor="white")
        for key, style in (("p50", "--"), ("p95", ":")):
            v = result["latency_ms"].get(key)
            if v is not None:
                ax.axvline(v, color="#b3261e", linestyle=style, label=f"{key} {v:.1f} ms")
        ax.set_xlabel("per-question latency (ms, retrieve + answer)")
        ax.set_ylabel("questions")
        ax.legend(fontsize=8)
    else:
        _no_data(ax, "latency samples")
    ax.set_title("Latency distribution")
    return _png(fig)


def _tradeoff_plot(result: dict, plt) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.8))
    sweep = result.get("threshold_sweep") or []
    if sweep:
        ts = [p["threshold"] for p in sweep]
        for key, label, color in (
            ("answer_accuracy", "answer accuracy", "#2b8cbe"),
            ("abstention_accuracy", "abstention accuracy", "#e6550d"),
            ("answered_rate", "share answered", "#999999"),
        ):
            ys = [p.get(key) for p in sweep]
            if any(y is not None for y in ys):
                ax.plot(
                    ts,
                    [float("nan") if y is None else y for y in ys],
                    marker=".",
                    label=label,
                    color=color,
                    linestyle="-" if key != "answered_rate" else "--",
                    drawstyle="steps-post",
                )
        conf = result.get("threshold")
        if conf is not None:
            ax.axvline(conf, color="black", linewidth=1)
            ax.annotate(f"configured {conf:g}", (conf, 1.04), fontsize=8, ha="center")
        ax.set_ylim(-0.02, 1.1)
        ax.set_xlabel("abstention threshold (answer when best sentence score >= threshold)")
        ax.set_ylabel("share")
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    else:
        _no_data(ax, "threshold sweep")
    ax.set_title("Accuracy / abstention trade-off across thresholds")
    return _png(fig)


def _score_plot(result: dict, plt) -> str:
    fig, ax = plt.subplots(figsize=(8, 3.2))
    pq = result.get("per_question") or []
    ans = [p["best_score"] for p in pq if not p["unanswerable"] and p["best_score"] is not None]
    una = [p["best_score"] for p in pq if p["unanswerable"] and p["best_score"] is not None]
    if ans or una:
        lo, hi = min(ans + una), max(ans + una)
        bins = [lo + (hi - lo) * i / 20 for i in range(21)] if hi > lo else 10
        ax.hist(
            [ans, una],
            bins=bins,
            label=["answerable", "unanswerable"],
            color=["#2b8cbe", "#e6550d"],
            alpha=0.85,
        )
        if result.get("threshold") is not None:
            ax.axvline(result["threshold"], color="black", linewidth=1, label="threshold")
        ax.set_xlabel("best sentence score")
        ax.set_ylabel("questions")
        ax.legend(fontsize=8)
    else:
        _no_data(ax, "scores")
    ax.set_title("Best sentence score: answerable vs unanswerable questions")
    return _png(fig)


def _summary_table(result: dict) -> str:
    rows = []
    for key, meaning in METRICS:
        if key not in result:
            continue
        v = result[key]
        gate = (result.get("gate") or GATE).get(key)
        verdict = ""
        if gate is not None:
            ok = v is not None and v >= gate
            verdict = f'<span class="{"pass" if ok else "fail"}">{"pass" if ok else "FAIL"}</span>'
        rows.append(
            f"<tr><td>{key}</td><td class=num>{_fmt(v)}</td>"
            f"<td class=num>{'' if gate is None else f'&ge; {gate:.2f}'}</td>"
            f"<td>{verdict}</td><td>{html.escape(meaning)}</td></tr>"
        )
    lat = result.get("latency_ms", {})
    ms = " / ".join("n/a" if lat.get(k) is None else f"{lat[k]:.1f}" for k in ("p50", "p95"))
    rows.append(
        f"<tr><td>latency_ms p50 / p95</td><td class=num>{ms}</td><td></td><td></td>"
        "<td>per question, retrieve + answer</td></tr>"
    )
    return (
        "<table><tr><th>metric</th><th>value</th><th>gate</th><th></th><th>meaning</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _retrieval_table(result: dict) -> str:
    names = [f"hit@{k}" for k in HIT_KS] + ["mrr"]
    head = "".join(f"<th>{n}</th>" for n in names)
    body = "".join(
        f"<tr><td>{html.escape(mode)}</td>"
        + "".join(f"<td class=num>{_fmt(m.get(n))}</td>" for n in names)
        + "</tr>"
        for mode, m in result.get("retrieval", {}).items()
    )
    return f"<table><tr><th>mode</th>{head}</tr>{body}</table>"


def _failures_table(result: dict) -> str:
    fails = result.get("failures") or []
    if not fails:
        return "<p>No failures.</p>"
    rows = []
    for f in fails:
        cites = "<br>".join(
            html.escape(
                f"[{c.get('n')}] {c.get('doc_id')}"
                + (f" p.{c['page']}" if c.get("page") is not None else "")
                + f" [{c.get('start')}:{c.get('end')}]"
                + ("" if c.get("valid") else " INVALID")
                + ("" if c.get("supports") else " unsupported")
            )
            + f'<div class="quote">{html.escape((c.get("quote") or "")[:200])}</div>'
            for c in f.get("citations") or []
        )
        rows.append(
            f"<tr><td>{html.escape(str(f['id']))}</td>"
            f"<td class=kind>{html.escape(f['kind'])}</td>"
            f"<td>{html.escape(f['question'])}</td><td>{html.escape(str(f['expected']))}</td>"
            f"<td>{html.escape(f.get('got') or '')}</td><td>{cites}</td></tr>"
        )
    return (
        "<table class=fails><tr><th>id</th><th>kind</th><th>question</th><th>expected</th>"
        "<th>got</th><th>citations</th></tr>" + "".join(rows) + "</table>"
    )


def write_report(result: dict, out_dir: Path) -> Path:
    """Write out_dir/index.html (one file: CSS inline, four plots as data: PNGs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = (
        f"{result.get('n')} questions ({result.get('n_answerable')} answerable, "
        f"{result.get('n_unanswerable')} unanswerable) &middot; dataset "
        f"{html.escape(str(result.get('dataset', '')))} &middot; model "
        f"{html.escape(str(result.get('model', '')))} &middot; threshold "
        f"{_fmt(result.get('threshold'))} &middot; k {_fmt(result.get('k'))} &middot; "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    missing = result.get("support_not_found") or []
    warn = (
        f"<p class=fail>Support quote not found in any document for: "
        f"{html.escape(', '.join(missing))}</p>"
        if missing
        else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ncpi-qa evaluation</title>
<style>{CSS}</style></head><body>
<h1>ncpi-qa evaluation</h1><p class=meta>{meta}</p>{warn}
<h2>Summary</h2>{_summary_table(result)}
{tiers_html(result, plt, _png)}
<h2>Retrieval by mode</h2>
<p>A hit is a retrieved chunk whose character span overlaps the support quote's span
(top {_fmt(result.get("retrieval_k"))} per mode, answerable questions with support).</p>
{_retrieval_table(result)}{_retrieval_plot(result, plt)}
<h2>Latency</h2>{_latency_plot(result, plt)}
<h2>Threshold trade-off</h2>
<p>The answerer replayed at each threshold on the same retrieved passages.</p>
{_tradeoff_plot(result, plt)}{_score_plot(result, plt)}
<h2>Failures ({len(result.get("failures") or [])})</h2>{_failures_table(result)}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
