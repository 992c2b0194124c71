import numpy as np

from taggers import CachedEncoder


class CountingEncoder:
    version = "counting-v1"
    dimension = 3

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_second_run_reads_the_cache_and_keys_include_the_model(tmp_path):
    path = tmp_path / "emb.sqlite"
    inner = CountingEncoder()
    first = CachedEncoder(inner, path).encode(["a", "bb", "a"])
    again = CachedEncoder(inner, path)
    second = again.encode(["bb", "a", "ccc"])
    assert np.array_equal(first[1], second[0]) and np.array_equal(first[0], second[1])
    assert inner.calls[-1] == ["ccc"] and again.hits == 2 and again.misses == 1
    other_model = CountingEncoder()
    other_model.version = "counting-v2"
    CachedEncoder(other_model, path).encode(["a"])
    assert other_model.calls == [["a"]]
