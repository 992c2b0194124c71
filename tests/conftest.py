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
