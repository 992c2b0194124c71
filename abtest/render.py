"""The A/B report for people: a one-screen text summary and a self-contained report.html (plots inline as PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

QUALITY_NAMES = {"bcubed_f1": "BCubed F1", "bcubed_precision": "BCubed precision", "bcubed_recall": "BCubed recall", "ari": "ARI"}
SPEED_NAMES = {"docs_per_s": "docs/s", "wall_s": "wall s", "startup_s": "startup s", "peak_rss_mb": "peak RSS MB", "max_stall_ms": "max stall ms"}


def write_report(report: dict, out_dir: Path, names: tuple[str, str] = ("A", "B")) -> None:
    """DIR/report.json (every number) and DIR/report.html (readable offline)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps({"names": list(names), **report}, indent=2) + "\n")
    (out_dir / "report.html").write_text(to_html(report, names), encoding="utf-8")


def _ci(x: dict) -> str:
    return f"{x['value']:.3f} [{x['low']:.3f}, {x['high']:.3f}]"


def _verdict(diff: dict) -> str:
    if diff["low"] > 0:
        return "B better"
    if diff["high"] < 0:
        return "A better"
    return "no clear difference"


def summary(report: dict, names: tuple[str, str] = ("A", "B")) -> str:
    """One screen: quality with intervals, topics, speed, stories, agreement."""
    a, b = names
    level = int(report["bootstrap"]["level"] * 100)
    lines = [
        f"A = {a}   B = {b}   ({report['bootstrap']['replicates']} bootstrap replicates over "
        f"{report['bootstrap']['n_stories']} true stories, {level}% intervals)",
        f"{'metric':<18}{'A':>24}{'B':>24}{'B - A':>26}  verdict",
    ]
    rows = [(QUALITY_NAMES[m], report["quality"][m]) for m in QUALITY_NAMES]
    if report["topic_accuracy"]:
        rows.append(("topic accuracy", report["topic_accuracy"]))
    for label, q in rows:
        lines.append(f"{label:<18}{_ci(q['a']):>24}{_ci(q['b']):>24}{_ci(q['b_minus_a']):>26}  {_verdict(q['b_minus_a'])}")
    lines.append(f"{'AMI':<18}{report['quality']['ami']['a']:>24.3f}{report['quality']['ami']['b']:>24.3f}")
    for key, label in SPEED_NAMES.items():
        s = report["speed"][key]
        lines.append(f"{label:<18}{s['a']!s:>24}{s['b']!s:>24}")
    sa, sb = report["stories"]["a"], report["stories"]["b"]
    for key in ("n_stories", "singletons", "size_p50", "size_p90", "size_max", "id_churn", "merged_fraction"):
        lines.append(f"{key.replace('_', ' '):<18}{sa[key]!s:>24}{sb[key]!s:>24}")
    g = report["agreement"]
    lines.append(
        f"agreement: ARI(A, B) {g['ari']:.3f}; B keeps {g['a_pairs_kept_by_b']:.1%} of A's same-story pairs, "
        f"A keeps {g['b_pairs_kept_by_a']:.1%} of B's ({g['n_articles']} articles)"
    )
    for key, (one, other) in (("a_stories_split_by_b", "AB"), ("b_stories_split_by_a", "BA")):
        for t in report["disagreements"][key][:1]:
            lines.append(f'most split by {other}: {one}\'s story of {t["size"]} ({t["n_parts"]} parts in {other}): "{t["parts"][0]["example_title"][:60]}"')
    changed = sum(c["changed"] for c in report["topic_changes"]["by_a_topic"])
    total = sum(c["n"] for c in report["topic_changes"]["by_a_topic"])
    lines.append(f"top topic changed for {changed} of {total} articles")
    return "\n".join(lines)


def _figure_png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _errors(intervals: list[dict]) -> list[list[float]]:
    """Error bar lengths; a percentile interval may not contain the data's own value, so they are clipped at 0."""
    return [[max(0.0, x["value"] - x["low"]) for x in intervals], [max(0.0, x["high"] - x["value"]) for x in intervals]]


def _plots(report: dict, names: tuple[str, str]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    metrics = [(QUALITY_NAMES[m], report["quality"][m]) for m in QUALITY_NAMES]
    if report["topic_accuracy"]:
        metrics.append(("topic accuracy", report["topic_accuracy"]))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.8))
    y = np.arange(len(metrics))
    for offset, side, color in ((-0.15, "a", "#4c72b0"), (0.15, "b", "#dd8452")):
        values = [m[side] for _, m in metrics]
        left.errorbar([v["value"] for v in values], y + offset, fmt="o", color=color, label=names[side == "b"], xerr=_errors(values), capsize=3)
    left.set_yticks(y, [n for n, _ in metrics])
    left.invert_yaxis()
    left.set(title="each variant with its interval", xlabel="score")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, fontsize=8)
    diffs = [m["b_minus_a"] for _, m in metrics]
    right.errorbar([d["value"] for d in diffs], y, fmt="o", color="#333", xerr=_errors(diffs), capsize=3)
    right.axvline(0, color="#c44e52", lw=1)
    right.set_yticks(y, [n for n, _ in metrics])
    right.invert_yaxis()
    right.set(title="B - A with its interval (right of the line: B better)", xlabel="difference")
    fig.tight_layout()
    plots = [("Quality", _figure_png(fig))]

    fig, ax = plt.subplots(figsize=(7, 3.5))
    sizes = [report["stories"][s]["sizes"] for s in ("a", "b")]
    bins = np.logspace(0, np.log10(max(max(s or [1]) for s in sizes) + 1), 30)
    for s, name, color in zip(sizes, names, ("#4c72b0", "#dd8452")):
        ax.hist(s, bins=bins, histtype="step", lw=1.5, label=f"{name} ({len(s)} stories)", color=color)
    ax.set(xscale="log", yscale="log", xlabel="articles per story (final)", ylabel="stories", title="story sizes")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots.append(("Story sizes", _figure_png(fig)))
    return plots


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def to_html(report: dict, names: tuple[str, str]) -> str:
    """A single HTML file with no external resources."""
    a, b = names
    quality_rows = [
        [QUALITY_NAMES[m], _ci(q["a"]), _ci(q["b"]), _ci(q["b_minus_a"]), _verdict(q["b_minus_a"])] for m, q in report["quality"].items() if m in QUALITY_NAMES
    ]
    if report["topic_accuracy"]:
        t = report["topic_accuracy"]
        quality_rows.append(["topic accuracy", _ci(t["a"]), _ci(t["b"]), _ci(t["b_minus_a"]), _verdict(t["b_minus_a"])])
    quality_rows.append(["AMI (no interval)", report["quality"]["ami"]["a"], report["quality"]["ami"]["b"], "", ""])
    speed_rows = [[SPEED_NAMES[k], v["a"], v["b"]] for k, v in report["speed"].items()]
    story_keys = ("n_stories", "n_articles", "singletons", "size_p50", "size_p90", "size_p99", "size_max", "id_churn", "merged_fraction")
    story_rows = [[k.replace("_", " "), report["stories"]["a"][k], report["stories"]["b"][k]] for k in story_keys]
    g = report["agreement"]
    sections = [
        f"<h1>A/B report</h1><p><b>A</b> = {html.escape(a)}<br><b>B</b> = {html.escape(b)}<br>input: {html.escape(json.dumps(report['inputs']['a']))}</p>",
        f"<h2>Quality</h2><p>{report['bootstrap']['replicates']} bootstrap replicates resampling the "
        f"{report['bootstrap']['n_stories']} true stories (seed {report['bootstrap']['seed']}); "
        f"{int(report['bootstrap']['level'] * 100)}% percentile intervals; the difference is paired (same replicates).</p>"
        + _table(["metric", "A", "B", "B - A", "verdict"], quality_rows),
    ]
    plots = _plots(report, names)
    sections.append(f'<img alt="quality" src="{plots[0][1]}">')
    sections.append("<h2>Speed and memory</h2><p>One run each, one after the other on the same machine.</p>" + _table(["", "A", "B"], speed_rows))
    sections.append("<h2>Stories</h2>" + _table(["", "A", "B"], story_rows) + f'<img alt="story sizes" src="{plots[1][1]}">')
    sections.append(
        f"<h2>Agreement between A and B</h2><p>ARI(A, B) = {g['ari']:.3f}. B keeps {g['a_pairs_kept_by_b']:.1%} of the "
        f"article pairs A puts in one story; A keeps {g['b_pairs_kept_by_a']:.1%} of B's; pair Jaccard {g['pair_jaccard']:.3f} "
        f"({g['n_articles']} articles both runs tagged).</p>"
    )
    for key, title in (("a_stories_split_by_b", "A's stories B splits most"), ("b_stories_split_by_a", "B's stories A splits most")):
        rows = [
            [d["story"], d["size"], d["pairs_split"], d["n_parts"], " | ".join(f"{p['size']}× {p['example_title'][:90]}" for p in d["parts"])]
            for d in report["disagreements"][key]
        ]
        sections.append(f"<h3>{title}</h3>" + _table(["story", "size", "pairs split", "parts", "largest parts: size × example title"], rows))
    changes = report["topic_changes"]
    rows = [[c["label"], c["n"], c["changed"], ", ".join(f"{t['label']} ({t['n']})" for t in c["to"])] for c in changes["by_a_topic"]]
    sections.append("<h2>Topic label changes</h2><h3>by A's top level-1 topic</h3>" + _table(["A topic", "articles", "changed in B", "to"], rows))
    if changes["by_true_topic"]:
        rows = [[c["label"], c["n"], c["accuracy_a"], c["accuracy_b"]] for c in changes["by_true_topic"]]
        sections.append("<h3>by true topic</h3>" + _table(["true topic", "articles", "accuracy A", "accuracy B"], rows))
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f2f2f2}img{max-width:100%}"
    )
    head = f"<meta charset='utf-8'><title>storywire A/B</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(sections)}</body></html>\n"
