"""The story service under load on localhost: requests/s and latency for the stories list, one story and match.

Starts `storywire serve` over a replayed demo (with article vectors; made
with the demo command when the folder is missing) on a free localhost port,
then: for each endpoint, `--clients` concurrent clients in a closed loop for
`--seconds` (throughput and p50/p99); and `match` offered at a fixed
`--rate` (open loop, a request every 1/rate s, for `--seconds`), which is
where the service's target applies: p99 <= 50 ms at 20 requests/s. Every loop
is bounded in time and count, and only 127.0.0.1 is contacted.

    .venv/bin/python benchmarks/service_load.py [--demo-out out/demo] [--clients 8] [--seconds 10] [--rate 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from common import emit

BIN = Path(sys.executable).parent
MAX_REQUESTS = 20_000  # per phase, whatever the duration
TITLES = [
    "Aftershock rattles Chile's coast near Valparaiso",
    "Portugal's president meets party leaders after the vote",
    "Castell Automotive shares fall after results",
    "Hokkaido rail services resume after quake",
    "Rail union announces new strike dates",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(latencies: list[float]) -> dict:
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def closed_loop(base: str, request, clients: int, seconds: float) -> dict:
    """`clients` threads each sending back to back until `seconds` pass."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(i: int) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            n = 0
            while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
                t = time.perf_counter()
                ok = request(http, i * 1000 + n).status_code == 200
                with lock:
                    latencies.append(time.perf_counter() - t)
                    errors[0] += not ok
                n += 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return {"clients": clients, "requests_per_s": round(len(latencies) / (time.monotonic() - started), 1), **percentiles(latencies), "errors": errors[0]}


def open_loop(base: str, request, rate: float, seconds: float) -> dict:
    """A request every 1/rate s (each on its own thread, so a slow answer does not delay the next)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def one(i: int, http: httpx.Client) -> None:
        t = time.perf_counter()
        ok = request(http, i).status_code == 200
        with lock:
            latencies.append(time.perf_counter() - t)
            errors[0] += not ok

    count = min(int(rate * seconds), MAX_REQUESTS)
    start = time.monotonic()
    with httpx.Client(base_url=base, timeout=10, limits=httpx.Limits(max_connections=64)) as http, ThreadPoolExecutor(32) as pool:
        for i in range(count):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(one, i, http)
    return {"offered_per_s": rate, **percentiles(latencies), "errors": errors[0]}


def ensure_demo(folder: Path) -> None:
    if (folder / "article-vectors.jsonl").exists():
        return
    env = dict(os.environ, STORYWIRE_OUTPUT__VECTORS="true")
    subprocess.run([str(BIN / "storywire"), "demo", "--out", str(folder), "--no-progress"], check=True, env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo-out", type=Path, default=Path("out/demo"), help="a replay folder with article-vectors.jsonl (made if missing)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="match requests per second for the open-loop phase")
    args = parser.parse_args()
    ensure_demo(args.demo_out)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [str(BIN / "storywire"), "serve", "--from-dir", str(args.demo_out), "--database", f"{tmp}/view.sqlite", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=base, timeout=60) as http:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if http.get("/api/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("the service did not start")
                    time.sleep(0.2)
                stories = [s["id"] for s in http.get("/api/stories", params={"limit": 20}).json()["items"]]
                http.post("/api/match", json={"title": "warm up"})  # loads the encoder
            phases = {
                "stories_list": lambda h, i: h.get("/api/stories", params={"limit": 20, "sort": ("trending", "recency", "size")[i % 3]}),
                "one_story": lambda h, i: h.get(f"/api/stories/{stories[i % len(stories)]}"),
                "match": lambda h, i: h.post("/api/match", json={"title": TITLES[i % len(TITLES)], "k": 10}),
            }
            result = {name: closed_loop(base, request, args.clients, args.seconds) for name, request in phases.items()}
            result["match_at_rate"] = open_loop(base, phases["match"], args.rate, args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result["match_at_rate"]["target_p99_ms"] = 50
    emit({"cpus": os.cpu_count(), "seconds_per_phase": args.seconds, **result})


if __name__ == "__main__":
    main()
