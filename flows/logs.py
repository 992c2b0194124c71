"""Logging set-up: readable lines by default, one JSON object per line with --json-logs.

The default level is WARNING, so replays print only their progress bar and summary. What an operator of the
always-on service needs to see anyway (models loaded, ready, consuming which partitions from where) goes to the
`storywire.lifecycle` logger at INFO, which shows at the default level; `--log-level ERROR` hides it too.
librdkafka's own log (a FAIL line per reconnect while a broker is away) goes to the `librdkafka` logger
(`KafkaConfig.client_config`) and shows only with `--log-level DEBUG` (from the clients that poll: consumers and
producers; the admin client's connection attempts never reach Python): storywire reports the broker itself.
"""

from __future__ import annotations

import json
import logging
import sys

lifecycle = logging.getLogger("storywire.lifecycle")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "WARNING", json_logs: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    lifecycle.setLevel(logging.INFO if root.level <= logging.WARNING else root.level)
    logging.getLogger("librdkafka").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.CRITICAL + 1)
