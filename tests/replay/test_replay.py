import gzip
import json

import numpy as np

from replay import ArchiveRecord, RecordSpool, apply_protocol, apply_slot, bcubed, demo_firehose_path, plan_replay, read_jsonl, read_uci, score_clustering

DAY_MS = 86_400_000


def write_jsonl(path, rows, gz=False):
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n"
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)


def test_jsonl_reader_keeps_malformed_lines_with_their_line_numbers(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    write_jsonl(path, [{"id": "1"}, "{broken", "", "[1]"], gz=True)
    records = list(read_jsonl(path))
    assert [r.line for r in records] == [1, 2, 4]
    assert records[0].parsed == {"id": "1"} and records[1].parsed is None and records[2].parsed is None
    assert records[1].payload == b"{broken"


def test_uci_records_become_input_articles(tmp_path):
    path = tmp_path / "uci.jsonl"
    write_jsonl(path, [{"id": "7", "title": "T", "url": "u", "publisher": "P", "category": "b", "story": "s1", "hostname": "h", "timestamp": 1394470370698}])
    (record,) = read_uci(path)
    assert record.parsed == {"id": "7", "title": "T", "url": "u", "source": "P", "published_at": 1394470370698, "lang": "en", "story": "s1", "category": "b"}


def make_records(tmp_path, n=200, days=5):
    rows = [{"id": str(i), "title": f"t{i}", "timestamp": 1394409600000 + (i % days) * DAY_MS + i} for i in range(1, n + 1)]
    path = tmp_path / "u.jsonl"
    write_jsonl(path, rows)
    return list(read_uci(path))


def test_first_days_counts_calendar_days_with_data(tmp_path):
    records = make_records(tmp_path)
    assert len(apply_protocol(records, days=2)) == 80


def test_jitter_is_seeded_spread_and_ordered(tmp_path):
    records = make_records(tmp_path)
    a = apply_protocol(records, "jitter", seed=1)
    assert [r.payload for r in a] == [r.payload for r in apply_protocol(records, "jitter", seed=1)]
    assert [r.payload for r in a] != [r.payload for r in apply_protocol(records, "jitter", seed=2)]
    times = [r.parsed["published_at"] for r in a]
    assert times == sorted(times)
    shifts = np.array([r.parsed["published_at"] for r in sorted(a, key=lambda r: int(r.parsed["id"]))]) - np.array([r.parsed["published_at"] for r in records])
    assert 0.8 * 12 * 3600e3 < shifts.std() < 1.2 * 12 * 3600e3


def test_limit_applies_after_ordering(tmp_path):
    records = make_records(tmp_path)
    assert len(apply_protocol(records, "jitter", seed=1, days=3, limit=10)) == 10


def test_a_spooled_replay_streams_the_same_records_as_one_in_memory(tmp_path):
    records = make_records(tmp_path) + [ArchiveRecord(999, b"{not json", None)]
    spool = RecordSpool()
    plan = plan_replay(spool.keep(iter(records)), "jitter", seed=3, limit=150)
    streamed = [apply_slot(spool.get(slot.position), slot) for slot in plan]
    assert streamed == apply_protocol(records, "jitter", seed=3, limit=150)
    assert streamed[0].payload == b"{not json" and streamed[0].line == 999


def test_bcubed_on_a_known_case():
    labels = {"a": "x", "b": "x", "c": "y", "d": "y"}
    assert bcubed({"a": 1, "b": 1, "c": 2, "d": 2}, labels) == (1.0, 1.0, 1.0)
    p, r, f = bcubed({"a": 1, "b": 1, "c": 1, "d": 1}, labels)
    assert (p, r) == (0.5, 1.0) and abs(f - 2 / 3) < 1e-9
    scores = score_clustering({"a": 1, "b": 2, "c": 3, "d": 4}, labels)
    assert scores.bcubed_precision == 1.0 and scores.bcubed_recall == 0.5 and scores.n_stories == 4


def test_demo_firehose_is_shipped_with_labels_and_malformed_records():
    records = list(read_jsonl(demo_firehose_path()))
    labelled = [r for r in records if r.parsed and r.parsed.get("event")]
    assert 150 <= len(labelled) <= 300
    assert 15 <= len({r.parsed["event"] for r in labelled}) <= 25
    assert len(records) - len(labelled) >= 5


def test_jitter_passes_malformed_records_on_for_validation_to_report():
    good = [ArchiveRecord(i, b"{}", {"id": str(i), "published_at": 1_000_000_000 + i}) for i in (2, 1)]
    bad = [ArchiveRecord(3, b"not json", None), ArchiveRecord(4, b"{}", {"id": "x", "published_at": "last Tuesday"})]
    out = apply_protocol(good[:1] + bad + good[1:], "jitter", seed=1)
    assert out[:2] == bad and sorted(r.parsed["id"] for r in out[2:]) == ["1", "2"]


def test_shuffle_streams_the_order_random_shuffle_gives_the_file_and_keeps_times(tmp_path):
    import random

    path = tmp_path / "undated.jsonl"
    write_jsonl(path, [{"id": f"a{i}", "title": f"t{i}"} for i in range(20)])
    replayed = [r.parsed["id"] for r in apply_protocol(read_jsonl(path), "shuffle", seed=1)]
    expected = [f"a{i}" for i in range(20)]
    random.Random(1).shuffle(expected)
    assert replayed == expected
    assert [r.parsed["id"] for r in apply_protocol(read_jsonl(path), "shuffle", seed=2)] != expected
    assert all("published_at" not in r.parsed for r in apply_protocol(read_jsonl(path), "shuffle", seed=1))


def test_jitter_passes_a_lone_surrogate_on_to_the_flow_instead_of_stopping(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "1", "title": "bad \\ud800 title", "published_at": 1394500000000}\n{"id": "2", "title": "ok", "published_at": 1394500001000}\n')
    replayed = apply_protocol(read_jsonl(path), "jitter", seed=1)
    assert sorted(r.parsed["id"] for r in replayed) == ["1", "2"]
    bad = next(r for r in replayed if r.parsed["id"] == "1")
    assert bad.payload.decode("utf-8", "replace") != bad.payload.decode("utf-8", "surrogatepass")  # not valid UTF-8: the flow dead-letters it
