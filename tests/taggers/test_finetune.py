"""Pairs for encoder fine-tuning, and `storywire encoder finetune` on a tiny labelled file."""

import json

import numpy as np
import pytest

from commands.cli import main
from taggers import SentenceEncoder
from taggers.finetune import story_pair_batches

STORIES = {
    "fed": (
        "b",
        [
            "Fed holds rates steady as inflation cools",
            "Federal Reserve keeps interest rates unchanged",
            "Fed leaves benchmark rate on hold",
            "Central bank pauses rate hikes, Fed says",
        ],
    ),
    "gm": (
        "b",
        [
            "GM recalls 2 million cars over ignition switch",
            "General Motors expands ignition recall",
            "GM ignition switch recall widens",
            "GM faces probe over faulty ignition switches",
        ],
    ),
    "mh370": (
        "t",
        [
            "Search for missing Malaysia Airlines jet widens",
            "MH370 search moves to Indian Ocean",
            "Missing Malaysian plane: new satellite clues",
            "Malaysia Airlines flight search enters third week",
        ],
    ),
    "lonely": ("t", ["A story with one headline only"]),
}


def test_batches_pair_titles_of_one_story_and_never_repeat_a_story():
    titles = {s: hs for s, (_, hs) in STORIES.items()}
    groups = {s: g for s, (g, _) in STORIES.items()}
    data = story_pair_batches(titles, groups, pairs_per_story=2, batch_size=2, seed=0)
    story_of = {h: s for s, hs in titles.items() for h in hs}
    assert data.n_stories == 3  # a one-title story gives no pair
    for batch in data.batches:
        assert len(batch) == 2
        assert all(story_of[a] == story_of[b] and a != b for a, b in batch)
        assert len({story_of[a] for a, _ in batch}) == len(batch)  # no false negatives in a batch
    assert data.n_pairs == 4  # the last group has one story left: its second pair has no negative
    assert story_pair_batches(titles, groups, 2, 2, seed=0).batches == data.batches  # seeded


@pytest.mark.slow
def test_finetune_command_brings_same_story_titles_closer(tmp_path, capsys):
    path = tmp_path / "stories.jsonl"
    rows = [{"title": h, "story": s, "category": g, "timestamp": 1394470370698 + i * 3_600_000} for s, (g, hs) in STORIES.items() for i, h in enumerate(hs)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "story-encoder"
    assert (
        main(
            [
                "encoder",
                "finetune",
                "--input",
                str(path),
                "--label-field",
                "story",
                "--group-field",
                "category",
                "--date-field",
                "timestamp",
                "--pairs-per-story",
                "2",
                "--batch-size",
                "3",
                "--epochs",
                "4",
                "--learning-rate",
                "1e-4",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "6 pairs from 3 stories" in capsys.readouterr().out

    def margin(encoder: SentenceEncoder) -> float:
        """Mean same-story cosine minus mean cross-story cosine."""
        titles = [(s, h) for s, (_, hs) in STORIES.items() if s != "lonely" for h in hs]
        vectors = encoder.encode([h for _, h in titles])
        same = np.array([[a == b for b, _ in titles] for a, _ in titles])
        cos = vectors @ vectors.T
        return float(cos[same & ~np.eye(len(titles), dtype=bool)].mean() - cos[~same].mean())

    assert margin(SentenceEncoder(str(out))) > margin(SentenceEncoder()) + 0.05
