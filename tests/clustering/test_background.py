import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

START_WORKER = """
import os, sys
from clustering.background import ReclusterWorker
worker = ReclusterWorker().start()
print(worker._executor().submit(os.getpid).result(), flush=True)
sys.stdin.read()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_the_reclustering_worker_exits_when_the_stream_process_is_killed():
    stream = subprocess.Popen([sys.executable, "-c", START_WORKER], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    worker = int(stream.stdout.readline())
    assert worker != stream.pid and _alive(worker)
    stream.send_signal(signal.SIGKILL)
    stream.wait()
    deadline = time.time() + 20
    while _alive(worker) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), "the re-clustering worker outlived the killed stream process"


def _window(n: int = 60):
    import numpy as np

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    vectors = np.vstack([c + 0.05 * rng.normal(size=(n // 3, 8)) for c in centres]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [str(i) for i in range(n)], vectors, [f"s{i}" for i in range(n)]  # every article its own story


def test_a_dead_worker_is_replaced_and_the_window_sent_again(caplog):
    from clustering.background import BackgroundReclusterer, ReclusterWorker
    from clustering.recluster import recluster

    worker, reclusterer = ReclusterWorker(), BackgroundReclusterer()
    try:
        pid = worker._executor().submit(os.getpid).result()
        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        time.sleep(1)  # the pool notices while idle
        reclusterer.submit(worker, _window(), 5, 0, 0)
        assert reclusterer.take(worker) == recluster(_window(), 5, 0, 0)
        assert worker.restarts == 1 and not reclusterer.pending
        assert "the re-clustering worker died" in caplog.text
        reclusterer.submit(worker, _window(), 5, 0, 0)  # the new worker serves the next one
        assert reclusterer.take(worker).n_clusters == 3
    finally:
        worker.close()


def test_a_reclustering_in_flight_survives_a_snapshot():
    import copy
    import pickle

    from clustering.background import BackgroundReclusterer, ReclusterWorker

    worker, reclusterer = ReclusterWorker(), BackgroundReclusterer()
    try:
        reclusterer.submit(worker, _window(), 5, 0, 0)
        for restored in (pickle.loads(pickle.dumps(reclusterer)), copy.deepcopy(reclusterer)):
            other = ReclusterWorker()  # the restored process's own worker
            try:
                assert restored.pending
                assert restored.take(other).n_clusters == 3  # computed again there
            finally:
                other.close()
    finally:
        worker.close()


UMAP_WORKER = """
import sys, time
import numpy as np
from clustering.background import BackgroundReclusterer, ReclusterWorker
rng = np.random.default_rng(0)
centres = rng.normal(size=(3, 48))
vectors = np.vstack([c + 0.15 * rng.normal(size=(60, 48)) for c in centres]).astype(np.float32)
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
worker, reclusterer = ReclusterWorker("umap"), BackgroundReclusterer()
started = time.perf_counter()
worker.start()
start_s = time.perf_counter() - started
reclusterer.submit(worker, ([str(i) for i in range(180)], vectors, ["s"] * 180), 5, 8, 10, "umap")
result = reclusterer.take(worker)
print(start_s, "umap" in sys.modules or "numba" in sys.modules, result.n_clusters, flush=True)
worker.close()
"""


@pytest.mark.slow  # the worker compiles UMAP: tens of seconds
def test_umap_compiles_in_the_worker_never_in_the_stream_process():
    out = subprocess.run([sys.executable, "-c", UMAP_WORKER], cwd=ROOT, capture_output=True, text=True, timeout=600)
    start_s, stream_imported_umap, n_clusters = out.stdout.split()
    assert float(start_s) < 2.0  # starting the worker (and its JIT warm-up) does not wait for the warm-up
    assert stream_imported_umap == "False"
    assert int(n_clusters) == 3
