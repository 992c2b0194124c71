"""Published records that always fit the sink's maximum message size (`limits.max_output_bytes`).

Decoding already bounds what grows with the input (titles are truncated, ids
refused over `limits.max_id_chars`, dead letters carry at most
`limits.dead_letter_raw_bytes` of raw input and 1,000 characters of reason),
so this is the last guard: a record whose key and JSON value are still over
the limit loses list entries (entities, topics, keywords), halving until it
fits, then has its long strings cut, and says so: tags get the flag
`output-truncated`, stories and dead letters `"output_truncated": true`.
"""

from __future__ import annotations

from typing import Any

from flows.connectors import to_line

SHRINKABLE_LISTS = ("entities", "topics", "top_entities", "top_topics", "keywords")
CUTTABLE_STRINGS = ("title", "representative_title", "reason", "raw_base64")
OVERHEAD_BYTES = 512  # record headers and framing around key and value
CUT_CHARS = 1000


def fit_line(key: str, body: dict[str, Any], max_bytes: int) -> str:
    """`body` as one JSON line that, with `key`, fits `max_bytes`."""
    budget = max_bytes - OVERHEAD_BYTES - len(key.encode("utf-8"))
    line = to_line(body)
    if len(line.encode("utf-8")) <= budget:
        return line
    body = dict(body)
    _mark(body)
    for name in SHRINKABLE_LISTS:
        while isinstance(body.get(name), list) and body[name]:
            body[name] = body[name][: len(body[name]) // 2]
            line = to_line(body)
            if len(line.encode("utf-8")) <= budget:
                return line
    for name in CUTTABLE_STRINGS:
        if isinstance(body.get(name), str) and len(body[name]) > CUT_CHARS:
            body[name] = body[name][:CUT_CHARS]
            line = to_line(body)
            if len(line.encode("utf-8")) <= budget:
                return line
    return line  # reached only if limits.max_output_bytes is below what RunConfig.validate allows


def _mark(body: dict[str, Any]) -> None:
    if isinstance(body.get("flags"), list):
        body["flags"] = [*body["flags"], "output-truncated"]
    else:
        body["output_truncated"] = True
