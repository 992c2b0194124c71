"""/healthz tells the truth: stalls with records waiting and a high dead-letter ratio fail it."""

import json
import urllib.error
import urllib.request

from flows import monitoring
from flows.monitoring import Health


def test_records_waiting_without_progress_are_a_stall():
    health = Health(stall_after_s=10)
    health.read()
    health.last_progress -= 30
    (problem,) = health.problems()
    assert problem.startswith("no progress for 3") and "1 records read and waiting" in problem
    health.finished(1)
    assert health.problems() == []


def test_a_quiet_stream_is_not_a_stall():
    health = Health(stall_after_s=10)
    health.last_progress -= 3600
    assert health.problems() == []


def test_the_dead_letter_ratio_of_the_last_minute():
    health = Health(max_dead_letter_ratio=0.5, dead_letter_min_records=4)
    for _ in range(4):
        health.read()
    health.finished(1, dead=True)
    health.finished(2)
    health.finished(1, dead=True)
    assert health.problems() == []  # 2 of 4 is not more than half
    health.read()
    health.finished(1, dead=True)
    assert health.problems() == ["3 of the 5 records read in the last minute were dead-lettered"]
    assert Health(dead_letter_min_records=4).problems(now=10**10) == []  # the minute has passed


def _get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_readyz_turns_ready_once_models_are_loaded_and_the_flow_runs(monkeypatch):
    monkeypatch.setitem(monitoring._state, "ready", False)
    monkeypatch.setitem(monitoring._state, "status", "starting")
    server = monitoring.serve("127.0.0.1", 0)
    port = server.server_address[1]
    try:
        assert _get(port, "/readyz")[0] == 503
        monitoring.ready()
        monitoring.mark("running")
        assert _get(port, "/readyz") == (200, {"ready": True, "status": "running"})
        monitoring.mark("failed")
        code, body = _get(port, "/healthz")
        assert code == 503 and body["problems"][0] == "dataflow failed"
    finally:
        server.shutdown()
