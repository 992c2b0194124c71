"""Shared fixtures: the real models (loaded once per test session) and the dev data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not here (development data is optional)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def encoder():
    from taggers import SentenceEncoder

    return SentenceEncoder()


@pytest.fixture(scope="session")
def entity_tagger():
    from taggers import EntityTagger

    return EntityTagger()


AB_EVENTS = {"quake-chile": "disaster", "quake-japan": "disaster", "tokyo-marathon": "sport", "football-final": "sport",
             "ecb-rates": "economy", "pharma-merger": "economy", "measles-texas": "health"}


@pytest.fixture(scope="session")
def ab_run(tmp_path_factory):
    """`storywire ab` once, with the real flow and models, on the 54 demo articles of 7 events with a topic category:
    A the defaults, B a lower join threshold (merges the two earthquakes). Yields (out folder, stdout, archive)."""
    import json
    from contextlib import redirect_stdout
    from io import StringIO

    from commands.cli import main
    from replay import demo_firehose_path

    root = tmp_path_factory.mktemp("ab")
    docs = [json.loads(line) for line in demo_firehose_path().read_text().splitlines() if '"event": "' in line]
    docs = [{**d, "category": AB_EVENTS[d["event"]]} for d in docs if d.get("event") in AB_EVENTS]
    archive = root / "seven-events.jsonl"
    archive.write_text("".join(json.dumps(d) + "\n" for d in docs))
    mapping = root / "mapping.json"
    mapping.write_text(json.dumps({"mapping": {"disaster": "medtop:03000000", "sport": "medtop:15000000",
                                               "economy": "medtop:04000000", "health": "medtop:07000000"}}))
    (root / "a.toml").write_text("")
    (root / "b.toml").write_text("[clustering]\nthreshold = 3.0\n")
    out = StringIO()
    with redirect_stdout(out):
        code = main(["ab", "--a", str(root / "a.toml"), "--b", str(root / "b.toml"), "--input", str(archive),
                     "--label-field", "event", "--topic-field", "category", "--topic-mapping", str(mapping),
                     "--bootstrap", "300", "--out", str(root / "ab"), "--no-progress"])
    assert code == 0
    return root / "ab", out.getvalue(), archive, mapping
