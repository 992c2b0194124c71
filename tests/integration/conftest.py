"""A real single-node Kafka broker (deploy/kafka/broker.sh) and storywire processes for integration tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parents[2]
BROKER = ROOT / "deploy" / "kafka" / "broker.sh"


def free_port_pair() -> int:
    """A port p such that p and p+1 (broker and controller) are free."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000:
            with socket.socket() as s2:
                try:
                    s2.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port pair")


@dataclass
class Broker:
    port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    def _run(self, command: str) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "KAFKA_DIR": str(self.data_dir)}
        subprocess.run([str(BROKER), command], env=env, check=True, stdout=subprocess.DEVNULL, timeout=600)

    def start(self) -> None:
        self._run("start")

    def kill(self) -> None:
        """kill -9; the data dir stays for a restart."""
        self._run("kill")

    def stop(self) -> None:
        self._run("stop")


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> Broker:
    b = Broker(free_port_pair(), tmp_path_factory.mktemp("kafka"))
    b.start()
    yield b
    b.stop()


@dataclass
class Topics:
    """Per-test topic names, so tests never see each other's records."""

    prefix: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "STORYWIRE_KAFKA__ARTICLES_TOPIC": f"{self.prefix}.articles",
            "STORYWIRE_KAFKA__TAGS_TOPIC": f"{self.prefix}.article-tags",
            "STORYWIRE_KAFKA__STORIES_TOPIC": f"{self.prefix}.story-clusters",
            "STORYWIRE_KAFKA__DLQ_TOPIC": f"{self.prefix}.articles.dlq",
        }

    def __getattr__(self, name: str) -> str:
        if name in ("articles", "tags", "stories", "dlq"):
            return self.env[f"STORYWIRE_KAFKA__{name.upper()}_TOPIC"]
        raise AttributeError(name)


@pytest.fixture
def topics() -> Topics:
    return Topics(f"t{uuid.uuid4().hex[:8]}")


def storywire_env(broker: Broker, topics: Topics, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    env.update(topics.env)
    env.update(
        {
            "STORYWIRE_KAFKA__BOOTSTRAP_SERVERS": broker.bootstrap,
            "STORYWIRE_SOURCE__KIND": "kafka",
            "STORYWIRE_OUTPUT__KIND": "kafka",
            "STORYWIRE_MODELS__TORCH_THREADS": "1",
            "STORYWIRE_BATCH__MAX_SIZE": "16",
        }
    )
    env.update(settings)
    return env


def storywire(args: list[str], env: dict[str, str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "commands.cli", *args], env=env, capture_output=True, text=True, check=check, timeout=timeout)


class Service:
    """`storywire run` as a child process."""

    def __init__(self, env: dict[str, str], args: list[str] = (), log: Path | None = None) -> None:
        self.log = log
        self.stopping = False
        out = open(log, "ab") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "commands.cli", "--log-level", "INFO", "run", *args], env=env, stdout=out, stderr=out)

    def terminate(self, timeout: float = 60) -> int:
        self.signal_stop()
        return self.proc.wait(timeout)

    def signal_stop(self) -> None:
        """SIGTERM, once; a cluster drains only when every process has been told."""
        if not self.stopping:
            self.stopping = True
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


def read_topic(bootstrap: str, topic: str, until=None, timeout: float = 240.0, idle: float = 3.0) -> list[tuple[str, dict | None]]:
    """Every record of a topic from the beginning, until `until(records)` holds (then idle briefly)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions])
    records: list[tuple[str, dict | None]] = []
    deadline = time.monotonic() + timeout
    satisfied_at = None
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                value = json.loads(message.value()) if message.value() is not None else None
                records.append((message.key().decode() if message.key() else None, value))
                if idle == 0 and until is not None and until(records):
                    return records
                continue
            if until is None or until(records):
                satisfied_at = satisfied_at or time.monotonic()
                if time.monotonic() - satisfied_at >= idle:
                    return records
    finally:
        consumer.close()
    raise AssertionError(f"timed out reading {topic}: {len(records)} records")


def latest(records: list[tuple[str, dict | None]], key: str = "id") -> dict[str, dict]:
    """What a consumer that dedupes by (key, version) ends with: the highest version per key."""
    out: dict[str, dict] = {}
    for _, value in records:
        if value is not None and (value[key] not in out or value["version"] >= out[value[key]]["version"]):
            out[value[key]] = value
    return out
