"""Checks against the real UCI dev split in ../shared/data (skipped when it is absent)."""

import pytest

from replay import apply_protocol, read_uci


@pytest.mark.slow  # reads and shuffles 54k records
def test_first_14_days_of_the_uci_dev_split_match_the_data_readme(shared_data):
    records = list(apply_protocol(read_uci(shared_data / "uci-news" / "uci-news-dev.jsonl.gz"), "jitter", seed=1, days=14))
    assert len(records) == 54_445
    assert len({r.parsed["story"] for r in records}) == 880
