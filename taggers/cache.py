"""An on-disk embedding cache keyed by model version and text hash.

Repeated evaluations of one archive then pay for the encoder once. SQLite
keeps it a single file that several runs can share; rows are float32 bytes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


class CachedEncoder:
    """Wraps an encoder: `encode` looks every text up first and encodes only the misses."""

    def __init__(self, encoder, path: str | Path) -> None:
        self.encoder = encoder
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0

    @property
    def version(self) -> str:
        return self.encoder.version

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        return self._db

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.encoder.version}\x1f{text}".encode("utf-8")).hexdigest()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.encoder.encode(texts)
        db = self._connection()
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            vectors = self.encoder.encode([texts[i] for i in missing])
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)",
                [(keys[i], vectors[j].astype(np.float32).tobytes()) for j, i in enumerate(missing)],
            )
            db.commit()
            found.update((keys[i], vectors[j]) for j, i in enumerate(missing))
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
