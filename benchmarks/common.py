"""Shared helpers for the benchmark scripts: the dev data and JSON output."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
UCI = DATA / "uci-news" / "uci-news-dev.jsonl.gz"


def require_dev_data() -> None:
    if not UCI.exists():
        sys.exit(f"benchmarks need the development data at {DATA}")


def backend_env(spec: str) -> dict[str, str]:
    """Environment overrides for a benchmark's backend: a models.backend name, or static=DIR for the static
    backend with models.static_model = DIR (a model from `storywire encoder distill-static`)."""
    backend, _, static_model = spec.partition("=")
    return {"STORYWIRE_MODELS__BACKEND": backend, **({"STORYWIRE_MODELS__STATIC_MODEL": static_model} if static_model else {})}


def emit(result: dict) -> None:
    print(json.dumps(result, indent=2))


def free_port() -> int:
    """A free port p with p+1 free too (a broker's controller)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s:
            if port < 65000 and s.connect_ex(("127.0.0.1", port + 1)) != 0:
                return port
