"""The real flow with the real models on the bundled demo firehose."""

import contextlib
import io
import json

import pytest

from commands.cli import main
from evaluation.summary import RunSummary
from flows.config import RunConfig
from flows.runner import run
from replay import read_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    """Runs `storywire demo` once; returns its output folder and what it printed."""
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def demo_run(demo_output):
    return demo_output[0]


def test_demo_command_accounts_for_every_record_and_scores_the_stories(demo_output):
    demo_run, printed = demo_output
    n_input = sum(1 for line in open(_demo_path()) if line.strip())
    summary = RunSummary.from_outputs(demo_run, n_input)
    assert summary.n_tagged + len(summary.dead_letters) == n_input == 167
    assert f"articles in: {n_input}  tagged: 161  dead-lettered: 6" in printed
    f1 = float(printed.split("BCubed F1 ")[1].split()[0])
    assert f1 >= 0.90
    assert "top 10 stories:" in printed


def test_malformed_records_are_dead_lettered_with_reasons(demo_run):
    dead = {d["position"]: d for d in read_outputs(demo_run / "dead-letters.jsonl")}
    reasons = sorted(d["reason"].split(":")[0] for d in dead.values())
    assert reasons == [
        "expected a JSON object, got an array",
        "field 'id'",
        "field 'published_at'",
        "field 'title'",
        "missing required field 'id'",
        "not JSON",
    ]
    assert all(d["origin"] == "file:demo-firehose.jsonl" and d["raw_base64"] and d["raw_length"] > 0 for d in dead.values())


def test_every_topic_has_evidence_and_every_tag_a_story(demo_run):
    tags = list(read_outputs(demo_run / "tags.jsonl"))
    assert tags and all(t["story"]["id"] and t["models"]["encoder"] for t in tags)
    topics = [topic for t in tags for topic in t["topics"]]
    assert topics and all(topic["evidence"] for topic in topics)
    for evidence in (e for topic in topics for e in topic["evidence"]):
        assert evidence["kind"] in ("embedding", "rule")
        assert ("score" in evidence) if evidence["kind"] == "embedding" else (evidence["span"] and evidence["end"] > evidence["start"])
    assert {e["kind"] for topic in topics for e in topic["evidence"]} == {"embedding", "rule"}
    assert all(topic["ancestors"] for topic in topics if topic["level"] > 1)
    assert sum(bool(t["topics"]) for t in tags) > 0.8 * len(tags)
    assert sum(bool(t["entities"]) for t in tags) > 0.9 * len(tags)


def test_same_input_and_config_give_identical_outputs(demo_run, tmp_path):
    config = RunConfig.load(env={}).with_values({"output": {"directory": str(tmp_path)}, "source": {"progress": False}})
    run(config)
    for name in ("tags.jsonl", "stories.jsonl", "dead-letters.jsonl"):
        assert _without_clock(demo_run / name) == _without_clock(tmp_path / name), name


def _without_clock(path):
    rows = []
    for row in read_outputs(path):
        row.pop("processed_at", None)
        row.pop("received_at", None)
        rows.append(json.dumps(row, sort_keys=True))
    return rows


def _demo_path():
    from replay import demo_firehose_path

    return demo_firehose_path()
