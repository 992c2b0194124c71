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


AB_EVENTS = {
    "quake-chile": "disaster",
    "quake-japan": "disaster",
    "tokyo-marathon": "sport",
    "football-final": "sport",
    "ecb-rates": "economy",
    "pharma-merger": "economy",
    "measles-texas": "health",
}


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
    mapping.write_text(
        json.dumps({"mapping": {"disaster": "medtop:03000000", "sport": "medtop:15000000", "economy": "medtop:04000000", "health": "medtop:07000000"}})
    )
    (root / "a.toml").write_text("")
    (root / "b.toml").write_text("[clustering]\nthreshold = 3.0\n")
    out = StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "ab",
                "--a",
                str(root / "a.toml"),
                "--b",
                str(root / "b.toml"),
                "--input",
                str(archive),
                "--label-field",
                "event",
                "--topic-field",
                "category",
                "--topic-mapping",
                str(mapping),
                "--bootstrap",
                "300",
                "--out",
                str(root / "ab"),
                "--no-progress",
            ]
        )
    assert code == 0
    return root / "ab", out.getvalue(), archive, mapping


def _canonical(value, name: str = ""):
    """Everything a clustering state holds, as comparable plain data: arrays by bytes, dicts in their order
    (the order is state: it decides ties and the re-clustering input) except two caches never iterated."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, np.random.Generator):
        return ("rng", repr(value.bit_generator.state))
    if isinstance(value, dict):
        items = [(k, _canonical(v, str(k))) for k, v in value.items()]
        return ("dict", type(value).__name__, sorted(items) if name in ("_norms", "_row") else items)
    if isinstance(value, (list, tuple)) or type(value).__name__ == "deque":
        return (type(value).__name__, [_canonical(v) for v in value])
    if hasattr(value, "__getstate__") and type(value).__name__ in ("BackgroundReclusterer", "ReclusterWorker"):
        return (type(value).__name__, _canonical(value.__getstate__()))
    if hasattr(value, "__dict__") and not callable(value):
        return (type(value).__name__, _canonical(vars(value)))
    if hasattr(value, "__dataclass_fields__"):  # frozen, slotted or not
        return (type(value).__name__, [(f, _canonical(getattr(value, f))) for f in value.__dataclass_fields__])
    return value


@pytest.fixture(scope="session")
def state_of():
    """A function: a clustering state (clusterer, shard state, ...) as plain data that compares equal iff the states are."""
    return _canonical
