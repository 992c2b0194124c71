"""replay.times: the one place timestamps are read and written."""

import pytest

from replay import times
from replay.producer import published_ms
from replay.readers import ArchiveRecord

NOON = 1772452800.0  # 2026-03-02T12:00:00Z


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T12:00:00Z",
        "2026-03-02T12:00:00+00:00",
        "2026-03-02T14:00:00+02:00",
        "2026-03-02T12:00:00.000Z",
        "2026-03-02 12:00:00Z",
        "2026-03-02T12:00:00",
    ],
)
def test_iso_times_with_or_without_an_offset_read_as_utc(text):
    assert times.epoch_seconds(text) == NOON


def test_a_contract_that_needs_the_offset_refuses_a_naive_time():
    with pytest.raises(times.NoOffset):
        times.epoch_seconds("2026-03-02T12:00:00", require_offset=True)
    with pytest.raises(times.OutOfRange):
        times.epoch_seconds("9999-12-31T23:00:00-05:00")  # past year 9999 once in UTC
    with pytest.raises(ValueError):
        times.epoch_seconds("last Tuesday")


def test_written_times_are_rfc3339_utc_with_z():
    assert times.rfc3339(NOON + 0.25) == "2026-03-02T12:00:00.250Z"
    assert times.rfc3339(NOON, timespec="auto") == "2026-03-02T12:00:00Z"
    assert times.epoch_seconds(times.rfc3339(NOON + 0.25)) == NOON + 0.25
    assert times.utc_day(NOON + 12 * 3600 - 1) == "2026-03-02" and times.utc_day(NOON + 12 * 3600) == "2026-03-03"


def test_the_producer_reads_a_naive_published_at_as_utc_whatever_the_local_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30: the old reading would be 19,800 s early
    time.tzset()
    try:
        naive = ArchiveRecord(1, b"", {"id": "a", "published_at": "2026-03-02T12:00:00"})
        assert published_ms(naive) == NOON * 1000
        assert published_ms(ArchiveRecord(2, b"", {"id": "b", "published_at": "2026-03-02T12:00:00Z"})) == NOON * 1000
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
