import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

START_WORKER = """
import os, sys
from clustering.background import BackgroundReclusterer
reclusterer = BackgroundReclusterer()
reclusterer.start()
print(reclusterer._executor().submit(os.getpid).result(), flush=True)
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
