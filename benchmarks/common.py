"""Shared helpers for the benchmark scripts: the dev data and JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UCI = DATA / "uci-news" / "uci-news-dev.jsonl.gz"


def require_dev_data() -> None:
    if not UCI.exists():
        sys.exit(f"benchmarks need the development data at {DATA}")


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))
