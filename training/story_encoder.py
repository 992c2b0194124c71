"""`storywire encoder finetune`: teach the encoder what "the same story" means from a labelled archive.

Reads (title, story label, group) rows from JSON lines in a date range and
fine-tunes the configured encoder on same-story pairs (taggers.finetune). The
group is the --group-field value (e.g. the news category) plus the ISO week of
the article, so in-batch negatives are stories of the same desk and week.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flows.config import ModelsConfig
from taggers.finetune import fine_tune, story_pair_batches, titles_by_story
from training.topics import SliceOptions, base_model_path, day_of, in_date_range, labelled_docs, training_bar


def read_story_titles(path: str | Path, options: SliceOptions, group_field: str | None) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Titles per story label and each story's group, for the records of `path` in the date range."""
    rows = []
    for doc in labelled_docs(path):
        title = doc.get(options.title_field) if doc else None
        label = doc.get(options.label_field) if doc else None
        if not isinstance(title, str) or not title.strip() or label is None or not in_date_range(doc, options):
            continue
        group = str(doc.get(group_field, "")) if group_field else ""
        day = day_of(doc.get(options.date_field)) if options.date_field else None
        if day:
            group += "@%d-W%02d" % tuple(date.fromisoformat(day).isocalendar())[:2]
        rows.append((title.strip(), str(label), group))
    titles, groups = titles_by_story(rows)
    if not titles:
        raise ValueError(f"{path}: no labelled titles left (check --label-field, --title-field and the date range)")
    return titles, groups


def finetune(
    input_path: str,
    options: SliceOptions,
    group_field: str | None,
    models: ModelsConfig,
    out: Path,
    pairs_per_story: int = 6,
    batch_size: int = 64,
    epochs: int = 1,
    learning_rate: float = 2e-5,
    seed: int = 0,
) -> None:
    """`encoder finetune`: the configured encoder fine-tuned on same-story title pairs, saved to `out`."""
    titles, groups = read_story_titles(input_path, options, group_field)
    data = story_pair_batches(titles, groups, pairs_per_story, batch_size, seed)
    print(f"{data.n_pairs} pairs from {data.n_stories} stories in {len(data.batches)} batches")
    with training_bar(epochs * len(data.batches)) as on_step:
        fine_tune(base_model_path(models), data, out, epochs=epochs, learning_rate=learning_rate, seed=seed, on_step=on_step)
    print(f'wrote {out}; set models.encoder = "{out}" to use it')
