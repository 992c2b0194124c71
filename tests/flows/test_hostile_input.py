"""Property-based: no byte string a producer sends can stop the flow, and every record is accounted for.

Hostile records are mutations of the demo firehose's real articles
(replay/hostile.py) plus arbitrary text in any field. The fast test drives the
decode step; the slow one runs decode, enrich (the real models), clustering
and serialisation as the Bytewax dataflow, and checks
in = tagged + dead-lettered + ignored duplicates.
"""

from __future__ import annotations

import base64
import json
import random

import pytest
from bytewax.testing import TestingSource, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from flows.config import RunConfig
from flows.dataflow import Sinks, build_flow, decode
from flows.schema import Article, DeadLetter, RawRecord
from replay import demo_firehose_path, read_outputs
from replay.hostile import MUTATIONS, TEXT_FIELDS, hostile

ARTICLES = [json.loads(line) for line in demo_firehose_path().read_text().splitlines() if '"event"' in line]
CONFIG = RunConfig().with_values({"limits": {"max_record_bytes": 200_000}, "clustering": {"recluster_every": 0}})

# any character, lone surrogates and control characters (NUL included) drawn on purpose
any_text = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"]), st.characters(max_codepoint=0x1F)), max_size=50)


@st.composite
def hostile_records(draw) -> bytes:
    doc = draw(st.sampled_from(ARTICLES))
    if draw(st.booleans()):
        return hostile(random.Random(draw(st.integers(0, 2**32))), doc, draw(st.sampled_from(sorted(MUTATIONS))))[1]
    field = draw(st.sampled_from((*TEXT_FIELDS, "published_at")))
    value = draw(st.one_of(any_text, st.integers(), st.integers(min_value=2**53), st.floats(), st.none(), st.lists(any_text, max_size=3)))
    return json.dumps({**doc, field: value}).encode("utf-8")  # json.dumps escapes lone surrogates as \udxxx


@given(hostile_records())
@settings(max_examples=400, deadline=None)
def test_decode_is_total_and_dead_letters_carry_the_original_bytes(payload):
    result = decode(CONFIG, RawRecord(payload, "kafka:articles", 12, 1.7e9, 2))
    if isinstance(result, DeadLetter):
        assert result.reason and len(result.reason) <= 1000
        assert not result.reason.startswith("decode failed")  # a precise reason, not a caught exception
        assert base64.b64decode(result.raw_base64) == payload[: CONFIG.limits.dead_letter_raw_bytes]
        assert (result.origin, result.partition, result.position, result.raw_length) == ("kafka:articles", 2, 12, len(payload))
    else:
        assert isinstance(result, Article) and result.record.payload == payload
        assert result.content_hash  # the text encodes as UTF-8
        assert result.title.encode("utf-8") and len(result.title) <= CONFIG.limits.max_title_chars


def _counter(name: str) -> float:
    return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples if sample.name == name)


@pytest.mark.slow
@given(st.lists(hostile_records(), min_size=1, max_size=24), st.lists(st.sampled_from(ARTICLES), max_size=8, unique_by=lambda d: d["id"]))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_flow_accounts_for_every_hostile_record(tmp_path_factory, hostile_payloads, good):
    out = tmp_path_factory.mktemp("hostile")
    payloads = [json.dumps(doc).encode() for doc in good] + hostile_payloads
    records = [RawRecord(p, "file:hostile", i, 1.8e9) for i, p in enumerate(payloads, 1)]
    duplicates_before = _counter("storywire_duplicates_total")
    run_main(build_flow(CONFIG, TestingSource(records, batch_size=8), Sinks.files(out), replay=True, snapshots=False))
    tags = list(read_outputs(out / "tags.jsonl"))
    first_publications = [t for t in tags if not any(f.startswith("story-") for f in t["flags"])]
    dead = list(read_outputs(out / "dead-letters.jsonl"))
    duplicates = _counter("storywire_duplicates_total") - duplicates_before
    assert len(first_publications) + len(dead) + duplicates == len(records)
    for letter in dead:
        assert base64.b64decode(letter["raw_base64"]) == payloads[letter["position"] - 1][: CONFIG.limits.dead_letter_raw_bytes]
    tagged = {t["id"] for t in tags}
    assert all(doc["id"] in tagged for doc in good)
    for written in out.glob("*.jsonl"):
        assert all(len(line) <= CONFIG.limits.max_output_bytes for line in written.read_bytes().splitlines())


def test_the_archive_reader_passes_any_line_to_the_flow():
    from replay.readers import parse_record

    nested = b"[" * 100_000 + b"]" * 100_000
    assert parse_record(3, nested).payload == nested and parse_record(3, nested).parsed is None
