"""`storywire ab` on 54 labelled demo articles, with the real flow and models (the `ab_run` fixture)."""

import json
import re

import pytest

pytestmark = pytest.mark.slow


def test_each_metric_has_both_variants_with_intervals_and_the_paired_difference(ab_run):
    out, stdout, archive, _ = ab_run
    n = len(archive.read_text().splitlines())
    report = json.loads((out / "report.json").read_text())
    metrics = {side: json.loads((out / side / "metrics.json").read_text()) for side in "ab"}
    for name in ("bcubed_f1", "bcubed_precision", "bcubed_recall", "ari"):
        q = report["quality"][name]
        for side in "ab":
            assert q[side]["value"] == pytest.approx(metrics[side][name], abs=1e-4)  # the same score as `storywire eval`
            assert q[side]["low"] <= q[side]["high"]
        assert q["b_minus_a"]["value"] == pytest.approx(q["b"]["value"] - q["a"]["value"], abs=2e-4)
    assert report["quality"]["bcubed_precision"]["b"]["value"] < report["quality"]["bcubed_precision"]["a"]["value"]
    assert report["topic_accuracy"]["n_articles"] == n and 0 < report["topic_accuracy"]["a"]["value"] <= 1
    assert report["speed"]["peak_rss_mb"]["a"] > 100 and report["speed"]["docs_per_s"]["b"] > 0
    assert report["stories"]["a"]["n_articles"] == n and report["stories"]["b"]["n_stories"] < report["stories"]["a"]["n_stories"]
    assert "BCubed F1" in stdout and "agreement: ARI(A, B)" in stdout and len(stdout.splitlines()) < 30


def test_the_stories_b_merges_are_named_with_example_titles(ab_run):
    out, _, archive, _ = ab_run
    report = json.loads((out / "report.json").read_text())
    assert report["agreement"]["a_pairs_kept_by_b"] == 1.0 or report["agreement"]["ari"] < 1.0
    merged = report["disagreements"]["b_stories_split_by_a"]
    assert merged, "B's lower threshold joins stories that A keeps apart"
    titles = [p["example_title"] for p in merged[0]["parts"]]
    assert len(titles) >= 2 and all(titles)
    changes = report["topic_changes"]
    assert sum(c["n"] for c in changes["by_a_topic"]) == len(archive.read_text().splitlines())
    assert {c["topic"] for c in changes["by_true_topic"]} == {"medtop:03000000", "medtop:15000000", "medtop:04000000", "medtop:07000000"}


def test_report_html_reads_offline(ab_run):
    out, _, _, _ = ab_run
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched from the network
    assert "B&#x27;s stories A splits most" in page or "B's stories A splits most" in page
