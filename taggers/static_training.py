"""Train the static encoder on news text: a model2vec distillation fitted to the transformer's embeddings.

model2vec's plain distillation embeds every token of the vocabulary on its own, so a word's vector
knows nothing of the news contexts it appears in; on UCI headlines that costs ~0.085 BCubed F1
against the transformer. Tokenlearn's recipe (MinishLab) closes most of it: embed a news corpus with
the transformer (the teacher), then train the static token table so that the mean of a text's token
vectors points where the teacher's embedding does (cosine loss, `model2vec.train.StaticModelForSimilarity`).
Optionally, frequent corpus words the word-piece vocabulary lacks (names, places) first join the
vocabulary (`distill(vocabulary=...)`) so that they get vectors of their own instead of a mean of fragments.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)


def corpus_vocabulary(texts: Iterable[str], model_path: str, min_count: int = 5, max_words: int = 30_000) -> list[str]:
    """Up to `max_words` words seen at least `min_count` times in `texts` and missing from the model's vocabulary,
    most frequent first; words are split and normalised as the model's own tokenizer does (e.g. lower case)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path).backend_tokenizer
    known = set(tokenizer.get_vocab())
    counts: Counter[str] = Counter()
    for text in texts:
        normalised = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer else text
        counts.update(word for word, _ in tokenizer.pre_tokenizer.pre_tokenize_str(normalised))
    words = [w for w, n in counts.most_common() if n >= min_count and w not in known and any(c.isalnum() for c in w)]
    return words[:max_words]


def distill_static(model_path: str, vocabulary: Sequence[str] = ()):
    """model2vec's distillation of a sentence-transformers model, full dimension (no PCA), with extra words."""
    from model2vec.distill import distill

    return distill(model_name=model_path, vocabulary=list(vocabulary) or None, pca_dims=None)


def fit_to_teacher(model, texts: Sequence[str], targets: np.ndarray, *, max_epochs: int = 2, learning_rate: float = 5e-3, batch_size: int = 256, seed: int = 0):
    """The static model trained so each text's mean token vector has the direction of the teacher's embedding of it.

    Training stops early when the held-out 10% (up to 10,000 texts) stops improving; returns a model2vec
    StaticModel with the same tokenizer and dimension."""
    import torch
    from model2vec.train import StaticModelForSimilarity

    if targets.shape != (len(texts), model.dim):
        raise ValueError(f"targets must be {len(texts)} x {model.dim} (one teacher vector per text), got {targets.shape}")
    trainable = StaticModelForSimilarity.from_static_model(model=model, n_layers=0, out_dim=model.dim)
    trainable.fit(
        list(texts),
        torch.from_numpy(np.asarray(targets, dtype=np.float32)),
        learning_rate=learning_rate,
        batch_size=batch_size,
        max_epochs=max_epochs,
        early_stopping_patience=2,
        device="cpu",
        random_seed=seed,
    )
    return trainable.to_static_model()


def train_static(
    model_path: str,
    texts: Sequence[str],
    teacher: Callable[[list[str]], np.ndarray],
    *,
    min_count: int = 5,
    max_words: int = 0,
    max_epochs: int = 3,
    learning_rate: float = 5e-3,
    seed: int = 0,
):
    """Distil `model_path` with the corpus's frequent new words, then fit it to `teacher`'s embeddings of `texts`."""
    unique = sorted(set(t for t in texts if t.strip()))
    vocabulary = corpus_vocabulary(unique, model_path, min_count, max_words) if max_words else []
    log.info("distilling %s with %d corpus words added to its vocabulary", model_path, len(vocabulary))
    model = distill_static(model_path, vocabulary)
    if not max_epochs:
        return model
    return fit_to_teacher(model, unique, teacher(unique), max_epochs=max_epochs, learning_rate=learning_rate, seed=seed)
