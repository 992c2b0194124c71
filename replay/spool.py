"""A spool of archive records on disk, read back in any order.

A replay re-orders the archive (the jitter protocol sorts by a shifted time),
so it needs random access to records that a gzip stream cannot give. Holding
200k parsed records in memory costs about as much as the models; the spool
keeps only two integers per record in memory and the bytes in a temporary file
that disappears with the process.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from typing import Iterable, Iterator

from replay.readers import ArchiveRecord, parse_record


class RecordSpool:
    """Append records once (`keep`), then read any of them by position (`get`)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="storywire-spool-")
        self._offsets = array("q", [0])
        self._lines = array("q")

    def keep(self, records: Iterable[ArchiveRecord]) -> Iterator[ArchiveRecord]:
        """Pass `records` through unchanged, writing each one to the spool on the way."""
        for record in records:
            self._file.write(record.payload)
            self._offsets.append(self._offsets[-1] + len(record.payload))
            self._lines.append(record.line)
            yield record
        self._file.flush()

    def __len__(self) -> int:
        return len(self._lines)

    def get(self, position: int) -> ArchiveRecord:
        start, end = self._offsets[position], self._offsets[position + 1]
        payload = os.pread(self._file.fileno(), end - start, start)  # no shared file position: safe from any thread
        return parse_record(self._lines[position], payload)
