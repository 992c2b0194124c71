"""`storywire eval` on a tiny labelled file, with the real flow and models."""

import json

import pytest

from commands.cli import main
from evaluation.harness import TIMING_FIELDS
from replay import demo_firehose_path

pytestmark = pytest.mark.slow


def test_eval_writes_metrics_plot_and_baseline(tmp_path, capsys):
    lines = [line for line in demo_firehose_path().read_text().splitlines() if '"event": "quake-' in line]
    archive = tmp_path / "quakes.jsonl"
    archive.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "emb.sqlite"
    args = ["eval", "--input", str(archive), "--label-field", "event", "--out", str(tmp_path / "out"), "--baseline", "--no-progress"]
    assert main(args + ["--embedding-cache", str(cache)]) == 0
    result = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for key in (
        "bcubed_precision",
        "bcubed_recall",
        "bcubed_f1",
        "ari",
        "ami",
        "n_docs",
        "n_labels",
        "n_stories",
        "id_churn",
        "merged_fraction",
        "docs_per_s",
        "wall_s",
        "peak_rss_mb",
        "max_stall_ms",
        "weekly_bcubed_f1",
        "baseline",
    ):
        assert key in result
    assert result["n_docs"] == len(lines) and result["n_labels"] == 2
    assert result["bcubed_f1"] >= 0.9  # the two earthquakes stay apart
    assert result["peak_rss_mb"] > 100 and result["baseline"]["n_docs"] == len(lines)
    assert (tmp_path / "out" / "stream.png").stat().st_size > 10_000
    assert "BCubed F1" in capsys.readouterr().out and cache.stat().st_size > 0


def test_two_evals_with_the_same_seed_agree(tmp_path):
    """Quality metrics and every article's final story are identical across runs (timings aside)."""
    lines = demo_firehose_path().read_text().splitlines()
    archive = tmp_path / "demo.jsonl"
    archive.write_text("\n".join(lines) + "\n")
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["eval", "--input", str(archive), "--label-field", "event", "--out", str(out), "--no-progress"]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        stories = {}
        for line in (out / "tags.jsonl").read_text().splitlines():
            tag = json.loads(line)
            stories[tag["id"]] = tag["story"]["id"]
        runs.append(({k: v for k, v in metrics.items() if k not in TIMING_FIELDS}, stories))
    assert runs[0] == runs[1] and len(runs[0][1]) == 161


def test_the_dev_suite_puts_storywire_beside_every_baseline(tmp_path, capsys):
    """Without the dev data the suite still runs the demo: storywire, the naive grid (best marked) and HDBSCAN."""
    out = tmp_path / "suite"
    assert main(["eval", "--suite", "dev", "--data", str(tmp_path / "no-data"), "--out", str(out), "--no-progress"]) == 0
    result = json.loads((out / "suite.json").read_text())
    assert list(result) == ["demo"]
    rows = result["demo"]["rows"]
    assert rows[0]["method"] == "storywire defaults" and rows[0]["n_docs"] == 161
    naive = [r for r in rows if r["method"].startswith("naive")]
    assert len(naive) == 8 and sum(bool(r.get("best_naive")) for r in naive) == 1
    assert max(naive, key=lambda r: r["bcubed_f1"]).get("best_naive")
    assert [r["method"] for r in rows if "HDBSCAN" in r["method"]] == ["offline HDBSCAN mcs 2", "offline HDBSCAN mcs 3"]
    assert rows[0]["bcubed_f1"] >= max(r["bcubed_f1"] for r in rows[1:]) - 0.01, "storywire keeps up with every baseline on the demo"
    printed = capsys.readouterr().out
    assert "demo (protocol none)" in printed and "offline HDBSCAN mcs 3" in printed
    assert any((out / "features").glob("demo-*.npy")), "features are cached for the next run and the tuning benchmark"
