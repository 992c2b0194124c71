"""The static backend trained on news text: closer to the transformer than the plain distillation, and loadable."""

import numpy as np
import pytest

from replay.readers import demo_firehose_path, read_jsonl
from taggers.backends import make_encoder
from taggers.static_training import corpus_vocabulary, distill_static, fit_to_teacher

pytestmark = pytest.mark.slow


def _titles() -> list[str]:
    return [r.parsed["title"] for r in read_jsonl(demo_firehose_path()) if r.parsed and isinstance(r.parsed.get("title"), str)]


def test_corpus_words_missing_from_the_word_pieces_join_the_vocabulary(encoder):
    texts = ["Bitcoin falls, Obamacare sign-ups rise", "bitcoin rebounds", "Obamacare deadline", "Bitcoin quake", "the quake"]
    words = corpus_vocabulary(texts, encoder.model_path, min_count=2)
    assert words == ["bitcoin", "obamacare"]  # lower-cased as the model's tokenizer does; "quake" is a word piece already


def test_training_moves_the_static_model_towards_the_teacher(encoder, tmp_path):
    titles = sorted(set(_titles()))
    train, held_out = titles[::2], titles[1::2]
    words = corpus_vocabulary(train, encoder.model_path, min_count=2)
    distilled = distill_static(encoder.model_path, words)
    trained = fit_to_teacher(distilled, train, encoder.encode(train), batch_size=16)
    assert words and set(words) <= set(trained.tokens)  # the corpus words have vectors of their own

    def cosine(model, texts):
        return float((np.asarray(model.encode(texts)) * encoder.encode(texts)).sum(axis=1).mean())

    assert cosine(trained, train) > cosine(distilled, train) + 0.05
    assert cosine(trained, held_out) > cosine(distilled, held_out)  # it generalises beyond the texts it saw

    trained.save_pretrained(str(tmp_path / "news-static"))
    static = make_encoder("static", static_model=str(tmp_path / "news-static"))
    assert static.version.startswith("static:news-static@")
    vectors = static.encode(held_out[:5])
    assert vectors.shape == (5, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
