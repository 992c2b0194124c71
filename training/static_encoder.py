"""`storywire encoder distill-static`: the static backend trained on news text (models.static_model).

The configured encoder is distilled into a model2vec static model, then its token vectors are
trained so each text's mean vector points where the encoder's embedding of it does
(taggers/static_training.py). Train on days disjoint from those you evaluate on.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from flows.config import ModelsConfig
from flows.enrich import encoder_for
from flows.schema import Article
from taggers.static_training import train_static
from training.topics import SliceOptions, base_model_path, in_date_range, labelled_docs

TEACHER_CHUNK = 2048  # texts per teacher call: a progress step, and bounded memory


def corpus_texts(inputs: list[str], extra: list[str], dated: SliceOptions, max_chars: int) -> list[str]:
    """The text the flow embeds (title, lead, body up to `max_chars`) of every titled article in range."""
    docs = [d for path in inputs for d in labelled_docs(path) if d and in_date_range(d, dated)]
    docs += [d for path in extra for d in labelled_docs(path) if d]
    return [
        Article("", d["title"], 0.0, 0.0, "corpus", 0, summary=d.get("summary"), body=d.get("body")).text(max_chars)
        for d in docs
        if isinstance(d.get("title"), str) and d["title"].strip()
    ]


def distill_static(
    inputs: list[str],
    extra: list[str],
    dated: SliceOptions,
    models: ModelsConfig,
    out: Path,
    *,
    min_count: int = 5,
    max_words: int = 0,
    epochs: int = 3,
    learning_rate: float = 5e-3,
    seed: int = 0,
) -> None:
    """Train and save the static model at `out`; the teacher is the configured encoder on torch."""
    texts = corpus_texts(inputs, extra, dated, models.embed_max_chars)
    teacher = encoder_for(replace(models, backend="torch"))
    print(f"{len(texts)} texts ({len(set(texts))} distinct); teacher {teacher.version}")

    def embed(batch: list[str]) -> np.ndarray:
        chunks = []
        with tqdm(total=len(batch), unit="text", desc="teacher") as bar:
            for start in range(0, len(batch), TEACHER_CHUNK):
                chunks.append(teacher.encode(batch[start : start + TEACHER_CHUNK]))
                bar.update(len(chunks[-1]))
        return np.concatenate(chunks)

    model = train_static(
        base_model_path(models), texts, embed, min_count=min_count, max_words=max_words, max_epochs=epochs, learning_rate=learning_rate, seed=seed
    )
    model.save_pretrained(str(out))
    print(f'wrote {out} ({len(model.tokens)} tokens); set models.backend = "static" and models.static_model = "{out}"')
