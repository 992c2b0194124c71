"""`storywire taxonomy train|eval`: topic taggers trained and measured on labelled files.

A labelled file is JSON lines (optionally gzipped) with a title field, an
optional text field and a label field; a mapping turns labels into taxonomy
codes. Records can be restricted to a date range and sampled with a seed, so
training and evaluation slices are disjoint and reproducible.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from flows.config import ModelsConfig
from flows.enrich import encoder_for, head_encoder_for
from replay.readers import read_jsonl
from taggers.topic_head import TopicHead
from taggers.topics import ZeroShotTopicClassifier
from taxonomy import Taxonomy, load_taxonomy
from taxonomy.mapping import load_mapping


@dataclass(frozen=True)
class LabelledSlice:
    """Texts and their taxonomy codes, plus what was left out and why."""

    texts: list[str]
    codes: list[str]
    skipped_unmapped: int
    skipped_invalid: int
    path: str


@dataclass(frozen=True)
class SliceOptions:
    title_field: str = "title"
    text_field: str | None = None
    label_field: str = "category"
    date_field: str | None = None  # epoch ms/s numbers or ISO dates
    since: str | None = None  # inclusive, YYYY-MM-DD
    until: str | None = None  # exclusive, YYYY-MM-DD
    sample: int | None = None
    seed: int = 0


def read_labelled(path: str | Path, mapping: dict[str, str | None], options: SliceOptions) -> LabelledSlice:
    """The records of `path` in the date range, mapped to codes, then sampled without replacement."""
    rows, unmapped, invalid = [], 0, 0
    for doc in labelled_docs(path):
        title = doc.get(options.title_field) if doc else None
        if not isinstance(title, str) or not title.strip() or doc.get(options.label_field) is None:
            invalid += 1
            continue
        if not in_date_range(doc, options):
            continue
        code = mapping.get(str(doc[options.label_field]))
        if code is None:
            unmapped += 1
            continue
        body = doc.get(options.text_field) if options.text_field else None
        rows.append((f"{title.strip()}. {body.strip()}" if isinstance(body, str) and body.strip() else title.strip(), code))
    if options.sample is not None and options.sample < len(rows):
        keep = np.sort(np.random.default_rng(options.seed).choice(len(rows), options.sample, replace=False))
        rows = [rows[i] for i in keep]
    if not rows:
        raise ValueError(f"{path}: no labelled records left (check --label-field, --mapping and the date range)")
    return LabelledSlice([t for t, _ in rows], [c for _, c in rows], unmapped, invalid, str(path))


def labelled_docs(path: str | Path) -> Iterator[dict | None]:
    """The records of a JSON-lines file (None where not a JSON object), or the articles of a Parquet export
    (`storywire export`: a folder) with their labels as fields."""
    if Path(path).is_dir():
        from export import read_training_rows

        return read_training_rows(Path(path))
    return (record.parsed for record in read_jsonl(path))


def in_date_range(doc: dict, options: SliceOptions) -> bool:
    if not options.date_field or not (options.since or options.until):
        return True
    day = day_of(doc.get(options.date_field))
    return day is not None and (options.since is None or day >= options.since) and (options.until is None or day < options.until)


def day_of(value) -> str | None:
    """YYYY-MM-DD of an epoch (ms or s) number or an ISO date string; None otherwise."""
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=timezone.utc).strftime("%Y-%m-%d")
    if isinstance(value, str) and len(value) >= 10:
        return value[:10]
    return None


def train_head(data: LabelledSlice, encoder, out: Path, C: float = 10.0) -> TopicHead:
    vectors = encoder.encode(data.texts)
    metadata = {"name": out.stem, "trained_on": data.path, "n_train": len(data.texts), "class_counts": _counts(data.codes)}
    head = TopicHead(C=C).fit(vectors, data.codes, encoder_version=encoder.version, metadata=metadata)
    head.save(out)
    return head


def finetune_head(data: LabelledSlice, base_model: str, out: Path, epochs: int, learning_rate: float, seed: int = 0, on_step=None) -> TopicHead:
    """Fine-tune `base_model` with a softmax layer on the slice; the head and its encoder (`<out>.encoder/`) are saved together."""
    from taggers.encoder import SentenceEncoder
    from taggers.finetune import fine_tune_classifier

    encoder_dir = out.with_suffix(".encoder")
    layer = fine_tune_classifier(base_model, data.texts, data.codes, encoder_dir, epochs=epochs, learning_rate=learning_rate, seed=seed, on_step=on_step)
    metadata = {
        "name": out.stem,
        "trained_on": data.path,
        "n_train": len(data.texts),
        "class_counts": _counts(data.codes),
        "fine_tuned_from": base_model,
        "epochs": epochs,
        "learning_rate": learning_rate,
    }
    head = TopicHead().set_weights(layer.classes, layer.coef, layer.intercept, SentenceEncoder(str(encoder_dir)).version, metadata, str(encoder_dir))
    head.save(out)
    return head


def predict_and_score(data: LabelledSlice, taxonomy: Taxonomy, encoder, head: TopicHead | None = None) -> tuple[dict, list[str]]:
    """Scores of the head, or of zero-shot over every active concept of the mapped level; and the predictions."""
    vectors = encoder.encode(data.texts)
    if head is not None:
        head.check_encoder(encoder.version)
        predicted = [str(c) for c in head.predict(vectors)]
        method = f"trained head ({head.metadata_.get('name', 'head')})"
    else:
        levels = sorted({taxonomy[c].level for c in data.codes})
        if len(levels) != 1:
            raise ValueError(f"the mapping targets several levels {levels}; zero-shot evaluates one level at a time")
        candidates = [c.code for c in taxonomy.at_level(levels[0])]
        zero_shot = ZeroShotTopicClassifier(taxonomy, encoder, levels=(levels[0],)).fit()
        scores = zero_shot.decision_function(vectors, candidates)
        predicted = [candidates[i] for i in np.argmax(scores, axis=1)]
        method = f"zero-shot over {len(candidates)} level-{levels[0]} concepts"
    return score_topics(data, predicted, taxonomy, method), predicted


def score_topics(data: LabelledSlice, predicted: list[str], taxonomy: Taxonomy, method: str) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    classes = sorted(set(data.codes))
    precision, recall, f1, support = precision_recall_fscore_support(data.codes, predicted, labels=classes, zero_division=0)
    return {
        "method": method,
        "accuracy": round(float(accuracy_score(data.codes, predicted)), 4),
        # a prediction outside the mapped classes counts as wrong: it lowers recall of the true class
        "macro_f1": round(float(f1_score(data.codes, predicted, labels=classes, average="macro", zero_division=0)), 4),
        "n": len(data.codes),
        "skipped_unmapped": data.skipped_unmapped,
        "skipped_invalid": data.skipped_invalid,
        "per_class": {
            c: {"label": taxonomy[c].label, "precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4), "support": int(s)}
            for c, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "predicted_outside_mapping": sum(p not in classes for p in predicted),
    }


def plot_confusion(data: LabelledSlice, predicted: list[str], taxonomy: Taxonomy, path: Path, title: str) -> None:
    """Rows: true classes; columns: the true classes plus any other predicted concept."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(set(data.codes))
    cols = rows + sorted(set(predicted) - set(rows))
    matrix = np.zeros((len(rows), len(cols)), dtype=int)
    for true, pred in zip(data.codes, predicted):
        matrix[rows.index(true), cols.index(pred)] += 1
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(cols), 1.5 + 0.45 * len(rows)))
    ax.imshow(matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), [taxonomy[c].label[:22] for c in cols], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), [taxonomy[c].label[:22] for c in rows], fontsize=7)
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render(result: dict) -> str:
    lines = [f"method: {result['method']}", f"articles: {result['n']} (left out: {result['skipped_unmapped']} unmapped, {result['skipped_invalid']} invalid)"]
    lines.append(f"{'class':<42}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>7}")
    for code, c in result["per_class"].items():
        lines.append(f"{(code + ' ' + c['label'])[:41]:<42}{c['precision']:>10.3f}{c['recall']:>8.3f}{c['f1']:>8.3f}{c['support']:>7}")
    lines.append(f"macro-F1: {result['macro_f1']:.3f}")
    lines.append(f"accuracy: {result['accuracy']:.3f}")
    return "\n".join(lines)


def _counts(codes: list[str]) -> dict[str, int]:
    return {c: codes.count(c) for c in sorted(set(codes))}


def taxonomy_and_mapping(taxonomy_path: str, mapping_path: str) -> tuple[Taxonomy, dict[str, str | None]]:
    taxonomy = load_taxonomy(taxonomy_path)
    return taxonomy, load_mapping(mapping_path, taxonomy)


def train(
    input_path: str,
    options: SliceOptions,
    taxonomy_path: str,
    mapping_path: str,
    models: ModelsConfig,
    out: Path,
    C: float = 10.0,
    finetune_epochs: int = 0,
    learning_rate: float = 5e-5,
) -> str:
    """`taxonomy train`: a logistic-regression head on the frozen encoder, or (finetune_epochs > 0) the encoder
    fine-tuned with a softmax layer; saved to `out`. Returns the report to print."""
    from taggers.finetune import CLASSIFIER_BATCH_SIZE

    taxonomy, mapping = taxonomy_and_mapping(taxonomy_path, mapping_path)
    data = read_labelled(input_path, mapping, options)
    if finetune_epochs:
        with training_bar(finetune_epochs * max(1, len(data.texts) // CLASSIFIER_BATCH_SIZE)) as on_step:
            head = finetune_head(data, base_model_path(models), out, finetune_epochs, learning_rate, options.seed, on_step)
    else:
        head = train_head(data, encoder_for(models), out, C=C)
    counts = ", ".join(f"{taxonomy[c].label}: {n}" for c, n in head.metadata_["class_counts"].items())
    return f"trained on {len(data.texts)} articles ({counts}); left out {data.skipped_unmapped} unmapped\nwrote {out}"


def evaluate_topics(
    input_path: str, options: SliceOptions, taxonomy_path: str, mapping_path: str, models: ModelsConfig, out: Path, model: Path | None = None
) -> str:
    """`taxonomy eval`: zero-shot, or the head at `model`, on the slice; writes OUT/metrics.json and OUT/confusion.png
    and returns the report to print (`accuracy: 0.xxx` last)."""
    taxonomy, mapping = taxonomy_and_mapping(taxonomy_path, mapping_path)
    data = read_labelled(input_path, mapping, options)
    head = TopicHead.load(model) if model else None
    # a head's own encoder embeds without the embedding cache, as before the move
    encoder = head_encoder_for(head, replace(models, embedding_cache=None)) if head is not None and head.encoder_path_ else encoder_for(models)
    result, predicted = predict_and_score(data, taxonomy, encoder, head)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_confusion(data, predicted, taxonomy, out / "confusion.png", f"{Path(input_path).name}: {result['method']}")
    return f"wrote {out}/metrics.json and {out}/confusion.png\n{render(result)}"


def base_model_path(models: ModelsConfig) -> str:
    """The configured encoder's model folder: where fine-tuning starts."""
    from taggers.encoder import SentenceEncoder

    return SentenceEncoder(models.encoder).model_path


@contextmanager
def training_bar(steps: int) -> Iterator[Callable[[int, float], None]]:
    """A progress bar over training batches, showing the loss; yields the per-step callback."""
    with tqdm(total=steps, unit="batch", desc="fine-tuning") as bar:

        def on_step(step: int, loss: float) -> None:
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}")

        yield on_step
