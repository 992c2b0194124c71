"""`storywire dlq redrive`: dead letters' original bytes back to an archive, filtered by reason."""

import contextlib
import io
import json

from commands.cli import main
from flows.config import RunConfig
from flows.dataflow import decode
from flows.schema import RawRecord

RAWS = [
    b'{"id": "a", "title": "cut',  # not JSON
    b'{"id": 5, "title": "t"}',  # field 'id'
    b'{"id": "b", "title": "bad \\ud800"}',  # not JSON (lone surrogate)
    b'{"id": "c", "title": "' + b"x" * 3000 + b'"',  # not JSON, raw bytes cut in the dead letter
]


def test_redrive_writes_the_original_bytes_of_the_matching_dead_letters(tmp_path):
    config = RunConfig().with_values({"limits": {"dead_letter_raw_bytes": 1024, "max_output_bytes": 20_000}})
    letters = [decode(config, RawRecord(raw, "kafka:articles", i, 1.7e9, 0)).to_json() for i, raw in enumerate(RAWS)]
    dead = tmp_path / "dead-letters.jsonl"
    dead.write_text("".join(json.dumps(letter) + "\n" for letter in letters))
    out = tmp_path / "redrive.jsonl"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["dlq", "redrive", "--file", str(dead), "--reason", "^not JSON", "--out", str(out)]) == 0
    assert out.read_bytes().splitlines() == [RAWS[0], RAWS[2]]
    assert printed.getvalue().strip() == ("dead letters read: 4, matching: 3, re-driven: 2; skipped: 1 with raw bytes cut at limits.dead_letter_raw_bytes")


def test_redrive_of_a_missing_file_says_so(tmp_path, capsys):
    assert main(["dlq", "redrive", "--file", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "dead-letters file" in capsys.readouterr().err


def test_dead_letters_write_received_at_in_rfc3339_and_redrive_reads_old_float_ones_too(tmp_path):
    letter = decode(RunConfig(), RawRecord(RAWS[0], "kafka:articles", 0, 1772452800.25, 0)).to_json()
    assert letter["received_at"] == "2026-03-02T12:00:00.250Z"
    old = {**letter, "received_at": 1772452800.25}  # as dead letters were written before
    dead = tmp_path / "dead-letters.jsonl"
    dead.write_text(json.dumps(letter) + "\n" + json.dumps(old) + "\n")
    out = tmp_path / "redrive.jsonl"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["dlq", "redrive", "--file", str(dead), "--out", str(out)]) == 0
    assert out.read_bytes().splitlines() == [RAWS[0], RAWS[0]]
