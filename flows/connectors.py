"""Sources and sinks for the dataflow: replayed archives in, JSON-lines files out.

Kafka plugs in beside these as another source (yielding RawRecord) and another
sink (taking (key, JSON line) pairs).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator

from bytewax.connectors.files import FileSink
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from tqdm import tqdm

from flows.schema import RawRecord
from replay import ArchiveRecord


class _ArchivePartition(StatefulSourcePartition[RawRecord, int]):
    def __init__(self, records: Iterator[ArchiveRecord], origin: str, batch_size: int, skip: int, progress: tqdm | None, stop: threading.Event):
        self._records = records
        self._stop = stop
        self._origin = origin
        self._batch_size = batch_size
        self._consumed = 0
        self._progress = progress
        for _ in range(skip):  # resume after a restart: skip what was already processed
            next(self._records, None)
            self._consumed += 1

    def next_batch(self) -> list[RawRecord]:
        if self._stop.is_set():
            raise StopIteration
        batch = []
        for record in self._records:
            batch.append(RawRecord(record.payload, self._origin, record.line, time.time()))
            if len(batch) >= self._batch_size:
                break
        if not batch:
            if self._progress is not None:
                self._progress.close()
            raise StopIteration
        self._consumed += len(batch)
        if self._progress is not None:
            self._progress.update(len(batch))
        return batch

    def snapshot(self) -> int:
        return self._consumed


class ArchiveSource(FixedPartitionedSource[RawRecord, int]):
    """Replays an archive as one partition, in batches of `batch_size` records.

    `open_records` returns a fresh iterator over the (sliced, ordered) archive, so
    a resumed run can skip to where the last snapshot left off. `local=False`: this
    process lists no partition (another process of the cluster reads the archive). Setting `stop`
    (the run's shutdown request) ends the partition early.
    """

    def __init__(
        self,
        open_records: Callable[[], Iterable[ArchiveRecord]],
        origin: str,
        batch_size: int = 64,
        total: int | None = None,
        progress: bool = True,
        local: bool = True,
        stop: threading.Event | None = None,
    ) -> None:
        self.open_records = open_records
        self.stop = stop or threading.Event()
        self.local = local
        self.origin = origin
        self.batch_size = batch_size
        self.total = total
        self.progress = progress

    def list_parts(self) -> list[str]:
        return [self.origin] if self.local else []

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _ArchivePartition:
        bar = tqdm(total=self.total, desc="replay", unit="article", disable=not self.progress) if self.progress else None
        return _ArchivePartition(iter(self.open_records()), self.origin, self.batch_size, resume_state or 0, bar, self.stop)


class _LocalFileSink(FileSink):
    """Bytewax's FileSink, listed only where `local`: one process of a cluster owns each file."""

    def __init__(self, path: Path, local: bool) -> None:
        super().__init__(path)
        self.local = local

    def list_parts(self) -> list[str]:
        return super().list_parts() if self.local else []


def jsonl_sink(path: Path, local: bool = True) -> FileSink:
    """One JSON object per line; Bytewax's FileSink truncates to the last snapshot on resume.

    `local=False` in the other processes of a cluster: the records reach the file through process 0.
    """
    if local:
        path.parent.mkdir(parents=True, exist_ok=True)
    return _LocalFileSink(path, local)


def to_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False)
