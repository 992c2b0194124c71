"""Re-driving dead letters: their original bytes go back to the flow's input after a fix.

Dead letters come from a dead-letters file (JSON lines, as file runs write
them) or from the dead-letter topic; `--reason` keeps those whose reason
matches a regular expression. Their raw bytes go to the articles topic (keyed
by article id when known) or to a JSON-lines archive for `storywire replay`.
A dead letter whose raw bytes were cut at `limits.dead_letter_raw_bytes`
cannot be re-driven and is counted, not sent; nor can one with a line break in
its bytes be written to an archive, whose records are lines.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from admin.topics import follow
from flows.config import KafkaConfig
from flows.kafka import check_connectivity
from replay import read_outputs


@dataclass
class RedriveReport:
    read: int = 0
    matched: int = 0
    sent: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def render(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in self.skipped.items()) or "none"
        return f"dead letters read: {self.read}, matching: {self.matched}, re-driven: {self.sent}; skipped: {skipped}"


def from_file(path: str | Path) -> Iterator[dict[str, Any]]:
    if not Path(path).exists():
        raise FileNotFoundError(f"dead-letters file {path} does not exist")
    return read_outputs(Path(path))


def from_topic(config: KafkaConfig, idle_timeout_s: float) -> Iterator[dict[str, Any]]:
    """Every dead letter on the topic, from the beginning, until it has been idle for `idle_timeout_s`."""
    return (value for _, value in follow(config, config.dlq_topic, from_beginning=True, idle_timeout_s=idle_timeout_s) if value)


def selected(letters: Iterable[dict[str, Any]], reason: str | None, report: RedriveReport) -> Iterator[tuple[str | None, bytes]]:
    """(article id or None, raw bytes) of the dead letters whose reason matches, counting what is left out."""
    pattern = re.compile(reason) if reason else None
    for letter in letters:
        report.read += 1
        if pattern is not None and not pattern.search(letter.get("reason", "")):
            continue
        report.matched += 1
        if letter.get("raw_truncated"):
            report.skip("with raw bytes cut at limits.dead_letter_raw_bytes")
            continue
        yield letter.get("article_id"), base64.b64decode(letter.get("raw_base64", ""))


def to_archive(records: Iterable[tuple[str | None, bytes]], path: str | Path, report: RedriveReport) -> None:
    with Path(path).open("wb") as f:
        for _, raw in records:
            if b"\n" in raw or b"\r" in raw or not raw.strip():
                report.skip("not one line (an archive record is a line)")
                continue
            f.write(raw + b"\n")
            report.sent += 1


def to_topic(records: Iterable[tuple[str | None, bytes]], config: KafkaConfig, topic: str, report: RedriveReport) -> None:
    from confluent_kafka import Producer

    check_connectivity(config, [topic])
    producer = Producer({**config.client_config(), "enable.idempotence": True, "acks": "all"})
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(error.str())

    for key, raw in records:
        while True:
            try:
                producer.produce(topic, key=key.encode("utf-8") if key else None, value=raw, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        report.sent += 1
    remaining = producer.flush(config.delivery_timeout_s)
    if remaining or failures:
        raise RuntimeError(f"re-driving to {topic}: {remaining} not delivered, {len(failures)} failed (first: {failures[:1]})")


def redrive(config: KafkaConfig, file: Path | None, reason: str | None, out: Path | None, idle_exit_s: float) -> RedriveReport:
    """`storywire dlq redrive`: dead letters from `file` (else the dead-letter topic) whose reason matches,
    to the archive `out` (else the articles topic)."""
    report = RedriveReport()
    letters = from_file(file) if file is not None else from_topic(config, idle_exit_s)
    records = selected(letters, reason, report)
    if out is None:
        to_topic(records, config, config.articles_topic, report)
    else:
        to_archive(records, out, report)
    return report
