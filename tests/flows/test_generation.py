"""Generations only go up: with the clock, and past a clock set back while a recovery store remembers."""

import time

import pytest

from flows.config import ConfigError
from flows.generation import mint_generation


def test_generation_follows_the_clock_and_never_repeats_in_one_recovery_store(tmp_path, monkeypatch):
    assert abs(mint_generation() - time.time()) <= 1
    monkeypatch.setattr(time, "time", lambda: 2_000_000_000.5)
    assert mint_generation(tmp_path, 0) == 2_000_000_000
    assert mint_generation(tmp_path, 0) == 2_000_000_001  # restarted within the second
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # the clock set back
    assert mint_generation(tmp_path, 0) == 2_000_000_002
    assert mint_generation(tmp_path, 1) == 1_000_000_000  # each process keeps its own record


def test_a_garbled_generation_file_stops_start_up_saying_what_to_do(tmp_path):
    (tmp_path / "generation-0").write_text("x")
    with pytest.raises(ConfigError, match="delete it"):
        mint_generation(tmp_path, 0)
