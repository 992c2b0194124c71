"""Years written in an article's text: the time evidence of a record that came without a timestamp.

An undated record (no `published_at`: archives such as ECB+, feeds that omit
it) gives the time model nothing, and two same-kind events years apart (two
earthquakes, two emergency patches) have embeddings, words and often names in
common. The years its text mentions (a dateline, "in 2013") stand in for the
missing date: a story whose members' texts mention years, none of them the
article's, is evidence against the join. Long texts mention more and carry
their own date more often than headlines, so the caller scales the evidence
with how much text the article has.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol, Sequence

import numpy as np

_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")  # 1950-2049: dates of news, not street numbers or prices


class HasYears(Protocol):
    year_counts: Counter  # year -> members whose text mentions it
    n_year_members: int  # members whose text mentions any year


def text_years(text: str, max_chars: int) -> tuple[int, ...]:
    """The distinct years the first `max_chars` characters mention, in ascending order."""
    return tuple(sorted({int(y) for y in _YEAR.findall(text[:max_chars])}))


def year_contradiction(years: Sequence[int], stories: Sequence[HasYears]) -> np.ndarray:
    """Per story, the share of its year-mentioning members that the article's years do not find (0 = none disagree).

    0 when either side mentions no year: no evidence is not contradicting evidence.
    """
    out = np.zeros(len(stories))
    if not years:
        return out
    for i, story in enumerate(stories):
        if story.n_year_members > 0:
            best = max(story.year_counts.get(y, 0) for y in years)
            out[i] = 1.0 - min(1.0, best / story.n_year_members)
    return out
