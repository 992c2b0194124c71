from dataclasses import replace

import numpy as np
import pytest

from clustering import OnlineStoryClusterer, StoryDoc
from clustering.evidence import text_years, year_contradiction
from clustering.story import Story

FILLER = " ".join(f"detail{i}" for i in range(80))  # a long text: more than MAX_DOC_TERMS distinct words


def quake(i, year, filler=FILLER, dated=False, hours=0.0):
    """A same-kind event report: the vector and most words are those of every other one; the year differs."""
    v = np.array([1.0, 0.2], dtype=np.float32)
    text = f"Earthquake kills dozens. Reported on 12 March {year}. {filler}"
    return StoryDoc(f"q{i}", v / np.linalg.norm(v), 1_000_000.0 + hours * 3600, "Earthquake kills dozens", text=text, dated=dated)


def clusterer(**params):
    # raw cosine only (1.0 here), so each test reads the year evidence alone
    return OnlineStoryClusterer(
        **{
            "calibrated": False,
            "weight_entities": 0.0,
            "weight_lexical": 0.0,
            "threshold": 0.5,
            "undated_decay": 1.0,
            "weight_years": 2.0,
            "recluster_every": 0,
            **params,
        }
    )


def test_text_years_reads_the_years_a_text_names_within_its_first_characters():
    assert text_years("Quake, 12 March 2011: worst since 1995. 2,500 homes; room 1234; 2011 again", 1000) == (1995, 2011)
    assert text_years("no date here, 300 dead", 1000) == ()
    assert text_years("x" * 50 + " 2013", 50) == ()


def test_a_story_contradicts_an_article_by_the_share_of_its_dated_members_naming_other_years():
    story = Story("s", 0.0, 0.0, np.zeros(2, dtype=np.float32))
    assert year_contradiction((2013,), [story]).tolist() == [0.0]  # no year in the story: no evidence
    for year in (2008, 2008, 2013, None):
        story.add(StoryDoc("d", np.array([1.0, 0.0]), 0.0, years=(year,) if year else ()))
    assert year_contradiction((2013,), [story]).tolist() == pytest.approx([2 / 3])
    assert year_contradiction((2008, 2013), [story]).tolist() == pytest.approx([1 / 3])
    assert year_contradiction((1999,), [story]).tolist() == [1.0]
    assert year_contradiction((), [story]).tolist() == [0.0]


def test_story_year_counts_follow_removed_and_absorbed_members():
    a, b = (Story(s, 0.0, 0.0, np.zeros(2, dtype=np.float32)) for s in "ab")
    doc = StoryDoc("d", np.array([1.0, 0.0]), 0.0, years=(2008,))
    a.add(doc)
    b.add(replace(doc, years=(2013,)))
    a.absorb(b, 1)
    assert a.n_year_members == 2 and a.year_counts == {2008: 1, 2013: 1}
    a.remove(doc)
    assert a.n_year_members == 1 and +a.year_counts == {2013: 1}


def test_undated_reports_of_same_kind_events_years_apart_get_stories_of_their_own():
    first, other_year, same_year = clusterer().partial_fit_predict([quake(1, 2008), quake(2, 2013), quake(3, 2008)])
    assert other_year.is_new and other_year.story_id != first.story_id
    assert same_year.story_id == first.story_id


def test_on_a_headline_the_years_barely_count():
    first, other_year = clusterer().partial_fit_predict([quake(1, 2008, filler=""), quake(2, 2013, filler="")])
    assert other_year.story_id == first.story_id  # 2 * (a few words / 64) is far less than the cosine


def test_dated_articles_leave_time_to_their_timestamps_not_to_the_years_they_name():
    first, other_year = clusterer().partial_fit_predict([quake(1, 2008, dated=True), quake(2, 2013, dated=True, hours=2)])
    assert other_year.story_id == first.story_id


def test_an_undated_article_scores_as_if_far_apart_in_time():
    c = clusterer(undated_decay=0.8, weight_years=0.0, threshold=0.9)
    first, undated = c.partial_fit_predict([quake(1, 2008), quake(2, 2008)])
    assert undated.is_new  # 0.8 x cosine 1.0 < 0.9
    dated = clusterer(undated_decay=0.8, threshold=0.9).partial_fit_predict([quake(1, 2008, dated=True), quake(2, 2008, dated=True)])
    assert dated[1].story_id == dated[0].story_id
