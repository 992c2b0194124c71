"""Faster encoder backends with the SentenceEncoder API: ONNX Runtime (fp32, dynamic int8) and static.

All three are derived from the configured sentence-transformers model on first
use and cached on disk (`models.cache_dir`), so production pays for the export
once per model:
- `onnx`: the transformer exported with `torch.onnx.export(..., dynamo=False)`
  (the dynamo exporter needs onnxscript), run by ONNX Runtime; pooling and
  normalisation as the model's own (mean or CLS).
- `onnx-int8`: that export quantized with onnxruntime's dynamic int8.
- `static`: a model2vec distillation (a static token-embedding table): two
  orders of magnitude faster, and measurably worse (benchmarks/). Its raw
  vectors all point one way (two random headlines have cosine ~0.7), which
  makes cosine thresholds meaningless, so it is centred on the mean vector of
  the bundled demo headlines (news text; random pairs then ~0.08). With
  `models.static_model` it loads a static model trained on news text instead
  (`storywire encoder distill-static`, taggers/static_training.py), used as it
  is: trained towards the transformer's vectors, it needs no centring.
Every backend returns unit-length float32 rows of the same dimension, and its
`version` names the backend, so each tagged record says which one produced it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np

from taggers.encoder import SentenceEncoder

log = logging.getLogger(__name__)
BACKENDS = ("torch", "onnx", "onnx-int8", "static")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "storywire"


class _DerivedEncoder:
    """Shared plumbing: the torch reference it is derived from, and where its files live."""

    backend = ""

    def __init__(
        self, model: str | None = None, cache_dir: str | Path | None = None, batch_size: int = 64, max_seq_length: int = 256, threads: int | None = None
    ) -> None:
        self.reference = SentenceEncoder(model, batch_size=batch_size, max_seq_length=max_seq_length)
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.batch_size = batch_size
        self.max_seq_length = max_seq_length
        self.threads = threads

    @property
    def version(self) -> str:
        return f"{self.backend}:{self.reference.version}"

    def directory(self, backend: str) -> Path:
        """Where the files derived from the reference model for `backend` are cached."""
        key = hashlib.sha256(f"{self.reference.version}|{self.reference.model_path}".encode()).hexdigest()[:12]
        return self.cache_dir / f"{backend}-{key}"

    @property
    def dimension(self) -> int:
        return self.reference.dimension


class OnnxEncoder(_DerivedEncoder):
    """The configured model run by ONNX Runtime, fp32 or dynamically quantized to int8."""

    def __init__(self, *args, quantized: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.quantized = quantized
        self.backend = "onnx-int8" if quantized else "onnx"
        self._session = None

    def _prepare(self):
        if self._session is not None:
            return self._session
        import onnxruntime

        model = self.reference._load()
        self._tokenizer = model.tokenizer
        pooling = model[1] if len(model) > 1 else None
        self._cls_pooling = bool(getattr(pooling, "pooling_mode_cls_token", False))
        fp32 = self.directory("onnx") / "model.onnx"
        if not fp32.exists():
            _export(model, fp32)
        path = fp32
        if self.quantized:
            path = self.directory("onnx-int8") / "model-int8.onnx"
            if not path.exists():
                from onnxruntime.quantization import QuantType, quantize_dynamic

                log.info("quantizing %s to int8 (once; cached in %s)", fp32, path)
                path.parent.mkdir(parents=True, exist_ok=True)
                quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
        options = onnxruntime.SessionOptions()
        # Idle worker threads sleep instead of spinning: spinning burnt a core that spaCy NER needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if self.threads:
            options.intra_op_num_threads = self.threads
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        return self._session

    chunk_size = 16  # texts per ONNX Runtime call, sorted by length: less padding, ~1.5x headlines/s on 64-text batches

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        session = self._prepare()
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.chunk_size):
            rows = order[start : start + self.chunk_size]
            batch = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np")
            feed = {name: batch[name].astype(np.int64) for name in self._inputs}
            (hidden,) = session.run(["last_hidden_state"], feed)
            if self._cls_pooling:
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"][..., None].astype(np.float32)
                pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[rows] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def _export(model, path: Path) -> None:
    """Export the transformer of a SentenceTransformer to ONNX with dynamic batch and sequence axes."""
    import torch

    log.info("exporting %s to ONNX (once; cached in %s)", type(model[0].auto_model).__name__, path)
    transformer = model[0].auto_model.eval()
    sample = model.tokenizer(["storywire exports this model"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *args):
            return self.transformer(**dict(zip(names, args)))[0]

    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(
            Hidden(),
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


class StaticEncoder(_DerivedEncoder):
    """A model2vec static distillation of the configured model (distilled once, cached), or a trained static model."""

    backend = "static-centred"

    def __init__(self, *args, static_model: str | Path | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.static_model = Path(static_model) if static_model else None
        self._model = None

    @cached_property
    def version(self) -> str:
        """The reference's version for the derived distillation; a trained model's folder name and content hash."""
        if self.static_model is None:
            return f"{self.backend}:{self.reference.version}"
        digest = hashlib.sha256((self.static_model / "model.safetensors").read_bytes()).hexdigest()[:12]
        return f"static:{self.static_model.name}@{digest}"

    def _prepare(self):
        if self._model is None:
            from model2vec import StaticModel

            from replay.readers import demo_firehose_path, read_jsonl

            directory = self.static_model or self.directory("static")  # the distillation; centring is applied on top
            if self.static_model is not None and not (directory / "config.json").exists():
                raise RuntimeError(
                    f"models.static_model = {str(directory)!r} holds no model2vec model: build one with "
                    "`storywire encoder distill-static --out DIR`, or unset it"
                )
            if not (directory / "config.json").exists():
                from model2vec.distill import distill

                log.info("distilling %s into a static model (once; cached in %s)", self.reference.model_path, directory)
                distill(model_name=self.reference.model_path, pca_dims=None).save_pretrained(str(directory))
            self._model = StaticModel.from_pretrained(str(directory))
            if self.static_model is None:
                titles = [r.parsed["title"] for r in read_jsonl(demo_firehose_path()) if r.parsed and isinstance(r.parsed.get("title"), str)]
                self._mean = np.asarray(self._model.encode(titles), dtype=np.float32).mean(axis=0)
            else:  # trained towards the transformer's directions: centring would move it away (cosine to torch 0.86 -> 0.79)
                self._mean = np.zeros(self._model.dim, dtype=np.float32)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self._prepare().dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._prepare().encode(texts, batch_size=1024), dtype=np.float32) - self._mean
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def make_encoder(
    backend: str,
    model: str | None = None,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    static_model: str | None = None,
):
    """The encoder for a configured backend (see BACKENDS); `static_model` is a trained static model's folder."""
    if backend == "torch":
        return SentenceEncoder(model, device=device)
    if backend in ("onnx", "onnx-int8"):
        return OnnxEncoder(model, cache_dir, threads=threads, quantized=backend == "onnx-int8")
    if backend == "static":
        return StaticEncoder(model, cache_dir, static_model=static_model)
    raise ValueError(f"models.backend = {backend!r}: use one of {', '.join(BACKENDS)}")
