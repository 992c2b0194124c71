"""Every published record fits the sink's maximum message size."""

import json

from flows.outputs import OVERHEAD_BYTES, fit_line


def _size(key, line):
    return len(key.encode()) + len(line.encode()) + OVERHEAD_BYTES


def test_a_record_that_fits_is_unchanged():
    body = {"id": "a", "flags": [], "entities": [{"text": "Chile"}]}
    assert json.loads(fit_line("a", body, 10_000)) == body


def test_tags_over_the_limit_lose_entities_first_and_are_flagged():
    body = {"id": "a", "title": "t", "flags": ["edited"], "entities": [{"text": "x" * 100}] * 1000, "topics": [{"code": "c"}]}
    line = fit_line("a", body, 20_000)
    fitted = json.loads(line)
    assert _size("a", line) <= 20_000
    assert fitted["flags"] == ["edited", "output-truncated"] and 0 < len(fitted["entities"]) < 1000
    assert fitted["topics"] == [{"code": "c"}] and body["flags"] == ["edited"]  # the input is not changed


def test_long_strings_are_cut_when_lists_are_not_enough():
    body = {"cluster_id": "s", "representative_title": "é" * 400_000, "keywords": ["k"] * 10}
    line = fit_line("s", body, 100_000)
    fitted = json.loads(line)
    assert _size("s", line) <= 100_000
    assert fitted["output_truncated"] is True and len(fitted["representative_title"]) == 1000 and fitted["keywords"] == []
