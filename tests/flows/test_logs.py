"""What the console shows: lifecycle lines at the default level, one line for an unreachable broker."""

import logging
import socket

from commands.cli import main
from flows import logs


def test_lifecycle_lines_show_at_the_default_level_and_other_info_does_not(capsys):
    logs.configure("WARNING")
    logs.lifecycle.info("consuming articles partition 0 from offset 12")
    logging.getLogger("flows.runner").info("replaying 167 records")
    logging.getLogger("librdkafka").error("FAIL localhost:9092/bootstrap: Connect failed")
    shown = capsys.readouterr().err.splitlines()
    assert len(shown) == 1 and "INFO storywire.lifecycle: consuming articles partition 0 from offset 12" in shown[0]
    logs.configure("ERROR")
    logs.lifecycle.info("consuming articles partition 0 from offset 12")
    assert capsys.readouterr().err == ""
    logs.configure("DEBUG")
    logging.getLogger("librdkafka").error("FAIL localhost:9092/bootstrap: Connect failed")
    assert "FAIL" in capsys.readouterr().err
    logs.configure("WARNING")


def test_an_unreachable_broker_prints_one_clear_line_not_librdkafkas_retries(capfd, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("STORYWIRE_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    monkeypatch.setenv("STORYWIRE_KAFKA__CONNECT_TIMEOUT_S", "2")
    assert main(["kafka", "init-topics"]) == 1
    err = capfd.readouterr().err  # librdkafka writes to file descriptor 2 itself, so capture at that level
    assert err.splitlines() == [
        f"storywire: cannot reach Kafka at 127.0.0.1:{port} within 2s (kafka.bootstrap_servers / kafka.connect_timeout_s): "
        "Failed to get metadata: Local: Broker transport failure"
    ]
