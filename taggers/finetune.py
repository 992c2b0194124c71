"""Fine-tune the sentence encoder: on same-story headline pairs, or as a topic classifier.

Off-the-shelf MiniLM puts two headlines about the same *topic* close together
even when they report different events (two Fed speeches, two Apple lawsuits),
which is exactly the confusion that costs story clustering precision. Training
on pairs of headlines from one labelled story, with the other stories of the
batch as negatives (multiple-negatives ranking loss), teaches the encoder the
finer distinction. Batches are filled from stories of the same group (for
news: category and week) so the in-batch negatives are hard ones, and never
hold two pairs of one story (which would be false negatives).

A frozen encoder with logistic regression on top tops out below what newsrooms
expect of topic tags; training the encoder with a softmax layer on the labelled
texts (`fine_tune_classifier`) gives the topic head its own, better embeddings.
"""

from __future__ import annotations

import itertools
import os
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

Pair = tuple[str, str]


@dataclass(frozen=True)
class PairBatches:
    """Training batches of (anchor, positive) headline pairs; each batch has distinct stories."""

    batches: list[list[Pair]]
    n_stories: int

    @property
    def n_pairs(self) -> int:
        return sum(len(b) for b in self.batches)


def story_pair_batches(
    titles_by_story: Mapping[str, Sequence[str]],
    group_of: Mapping[str, str],
    pairs_per_story: int = 6,
    batch_size: int = 64,
    seed: int = 0,
) -> PairBatches:
    """Up to `pairs_per_story` pairs of distinct titles per story, dealt round-robin
    within each group so that neighbouring pairs come from different stories of
    the same group, then cut into batches without repeating a story."""
    rng = random.Random(seed)
    by_group: dict[str, list[list[tuple[str, Pair]]]] = defaultdict(list)
    for story in sorted(titles_by_story):
        titles = sorted(set(t.strip() for t in titles_by_story[story] if t and t.strip()))
        if len(titles) < 2:
            continue
        rng.shuffle(titles)
        pairs = [(titles[i], titles[i + 1]) for i in range(0, len(titles) - 1, 2)][:pairs_per_story]
        if len(pairs) < pairs_per_story and len(titles) > 2:  # few titles: pair each with a different partner
            pairs += [(titles[i], titles[i + 1]) for i in range(1, len(titles) - 1, 2)][: pairs_per_story - len(pairs)]
        by_group[group_of[story]].append([(story, p) for p in pairs])
    stream: list[tuple[str, Pair]] = []
    for group in sorted(by_group):
        queues = by_group[group]
        rng.shuffle(queues)
        stream += [item for round_ in itertools.zip_longest(*queues) for item in round_ if item is not None]
    batches = [b for b in _deal(stream, batch_size) if len(b) > 1]  # a one-pair batch has no negatives
    rng.shuffle(batches)
    return PairBatches(batches, sum(1 for queues in by_group.values() for _ in queues))


def _deal(stream: list[tuple[str, Pair]], batch_size: int) -> list[list[Pair]]:
    """Cut the stream into batches in order; a pair whose story is already in the
    current batch waits for the next one."""
    batches: list[list[Pair]] = []
    batch: dict[str, Pair] = {}
    waiting: list[tuple[str, Pair]] = []
    for item in stream:
        waiting.append(item)
        still = []
        for story, pair in waiting:
            if story in batch:
                still.append((story, pair))
                continue
            batch[story] = pair
            if len(batch) == batch_size:
                batches.append(list(batch.values()))
                batch = {}
        waiting = still
    return batches + [list(batch.values())]


def fine_tune(
    model_path: str,
    data: PairBatches,
    out: Path,
    epochs: int = 1,
    learning_rate: float = 2e-5,
    warmup_fraction: float = 0.1,
    scale: float = 20.0,
    max_seq_length: int = 64,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train `model_path` on `data` with multiple-negatives ranking loss and save a
    sentence-transformers model directory at `out` (usable as models.encoder)."""
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    model = _load_for_training(model_path, max_seq_length, seed)
    loss = MultipleNegativesRankingLoss(model, scale=scale)
    rng = random.Random(seed)
    step = _trainer(list(model.parameters()), epochs * len(data.batches), learning_rate, warmup_fraction, on_step)
    for _ in range(epochs):
        order = list(data.batches)
        rng.shuffle(order)
        for batch in order:
            anchors, positives = (list(side) for side in zip(*batch))
            step(loss([model.preprocess(anchors), model.preprocess(positives)], None))
    return _save(model, out)


CLASSIFIER_BATCH_SIZE = 32  # texts per step when fine-tuning a classifier


@dataclass(frozen=True)
class LinearLayer:
    """A softmax layer over unit-length embeddings: logits = vectors @ coef.T + intercept."""

    classes: list[str]
    coef: np.ndarray  # (n_classes, dimension)
    intercept: np.ndarray  # (n_classes,)


def fine_tune_classifier(
    model_path: str,
    texts: Sequence[str],
    labels: Sequence[str],
    out: Path,
    epochs: int = 2,
    learning_rate: float = 5e-5,
    batch_size: int = CLASSIFIER_BATCH_SIZE,
    warmup_fraction: float = 0.1,
    scale: float = 20.0,
    max_seq_length: int = 64,
    seed: int = 0,
    on_step: Callable[[int, float], None] | None = None,
) -> LinearLayer:
    """Train `model_path` with a softmax layer on labelled texts (cross-entropy) and save the encoder at `out`.

    The layer reads unit-length embeddings scaled by `scale`, so it becomes a
    plain linear layer over what the saved encoder outputs (a topic head).
    """
    import torch

    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"fine-tuning a classifier needs at least two classes; the training data has {classes}")
    model = _load_for_training(model_path, max_seq_length, seed)
    layer = torch.nn.Linear(model.get_embedding_dimension(), len(classes))
    targets = torch.tensor([classes.index(label) for label in labels])
    order_rng = np.random.default_rng(seed)
    n_batches = max(1, len(texts) // batch_size)
    step = _trainer(list(model.parameters()) + list(layer.parameters()), epochs * n_batches, learning_rate, warmup_fraction, on_step)
    for _ in range(epochs):
        order = order_rng.permutation(len(texts))
        for b in range(n_batches):
            rows = order[b * batch_size : (b + 1) * batch_size]
            vectors = model(model.preprocess([texts[i] for i in rows]))["sentence_embedding"]
            logits = layer(torch.nn.functional.normalize(vectors, dim=1) * scale)
            step(torch.nn.functional.cross_entropy(logits, targets[rows]))
    _save(model, out)
    with torch.no_grad():
        return LinearLayer(classes, layer.weight.numpy() * scale, layer.bias.numpy().copy())


def _load_for_training(model_path: str, max_seq_length: int, seed: int):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    model = SentenceTransformer(model_path, device="cpu")
    model.max_seq_length = max_seq_length
    model.train()
    return model


def _trainer(parameters: list, steps: int, learning_rate: float, warmup_fraction: float, on_step: Callable[[int, float], None] | None) -> Callable:
    """A function taking one batch's loss through backward, clipping and an AdamW step on a warm-up then linear-decay schedule."""
    import torch

    optimizer = torch.optim.AdamW(parameters, lr=learning_rate)
    warmup = max(1, int(warmup_fraction * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    done = 0

    def step(loss) -> None:
        nonlocal done
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        done += 1
        if on_step:
            on_step(done, float(loss.item()))

    return step


def _save(model, out: Path) -> Path:
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save(str(out))
    return out


def titles_by_story(rows: Iterable[tuple[str, str, str]]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(title, story, group) rows -> titles per story and each story's group (that of its first row)."""
    titles: dict[str, list[str]] = defaultdict(list)
    group_of: dict[str, str] = {}
    for title, story, group in rows:
        titles[story].append(title)
        group_of.setdefault(story, group)
    return dict(titles), group_of
