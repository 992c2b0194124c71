"""Each fast encoder backend against the torch reference."""

import numpy as np
import pytest

from taggers.backends import make_encoder

pytestmark = pytest.mark.slow

TEXTS = [
    "Magnitude 6.4 earthquake strikes off Hokkaido, Japan",
    "Federal Reserve holds interest rates steady as inflation cools",
    "Kenyan runner sets course record at Tokyo Marathon",
    "Apple unveils a thinner iPhone with a faster chip",
    "Socialists win most seats in Portugal's snap election",
    "Scientists find water ice in craters near the Moon's south pole",
] * 3


@pytest.fixture(scope="module")
def reference(encoder):
    return encoder.encode(TEXTS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("derived-models")


# Bounds: fp32 ONNX is the same network (numerically equal); dynamic int8 loses a little (the
# shared data README measured a mean of 0.96); the static distillation is a different model in the
# same space: we ask for a mean cosine above 0.6 and the same nearest neighbour as torch.
@pytest.mark.parametrize("backend, min_cosine", [("onnx", 0.999), ("onnx-int8", 0.93)])
def test_onnx_backends_match_the_torch_reference(backend, min_cosine, reference, cache_dir):
    encoder = make_encoder(backend, cache_dir=cache_dir)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert (vectors * reference).sum(axis=1).min() >= min_cosine
    assert encoder.version.startswith(f"{backend}:sentence-transformers:")
    assert list(cache_dir.glob(f"{backend}-*/*.onnx")), "the derived model is cached on disk"


def test_static_backend_keeps_the_neighbourhoods_of_the_reference(reference, cache_dir):
    encoder = make_encoder("static", cache_dir=cache_dir)
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == reference.shape and encoder.version.startswith("static-centred:")
    assert (vectors * reference).sum(axis=1).mean() >= 0.6  # 0.75 measured on these texts once centred (0.46 raw)
    quake = encoder.encode(["Strong earthquake shakes northern Japan"])[0]
    assert int(np.argmax(vectors[:6] @ quake)) == 0  # the nearest of the six is the Hokkaido quake, as with torch


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError, match="torch, onnx, onnx-int8, static"):
        make_encoder("tensorrt")


def _gpu() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(not _gpu(), reason="needs a GPU that torch sees")
def test_on_a_gpu_the_encoder_runs_there_and_keeps_the_cpu_vectors(reference):
    from taggers.encoder import FP16_MIN_COSINE, SentenceEncoder

    encoder = SentenceEncoder(device="auto")
    vectors = encoder.encode(TEXTS)
    assert encoder.device.startswith("cuda") and encoder.precision in ("fp16", "fp32")
    assert vectors.dtype == np.float32 and (vectors * reference).sum(axis=1).min() >= FP16_MIN_COSINE


def test_device_auto_is_the_cpu_without_a_gpu_and_a_missing_gpu_is_refused():
    from taggers.encoder import SentenceEncoder, resolve_device

    if _gpu():
        assert resolve_device("auto") == "cuda"
        return
    assert SentenceEncoder(device="auto").device == "cpu"
    with pytest.raises(ValueError, match="torch sees no GPU"):
        SentenceEncoder(device="cuda")
    with pytest.raises(ValueError, match="use auto, cpu, cuda"):
        resolve_device("tpu")
