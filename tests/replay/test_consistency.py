"""The output checker finds each broken promise it is meant to find."""

from replay import check_outputs


def tag(article_id, version, story, is_new=False, **extra):
    return article_id, {"id": article_id, "version": version, "story": {"id": story, "is_new": is_new}, "flags": [], **extra}


def story(story_id, version, status="active", merged_into=None, size=1):
    return story_id, {"cluster_id": story_id, "version": version, "status": status, "merged_into": merged_into, "size": size}


def test_consistent_outputs_pass_through_merges_and_redeliveries():
    tags = [tag("a", 1, "s1", True), tag("b", 1, "s2", True), tag("b", 1, "s2", True), tag("b", 2, "s1")]
    stories = [story("s1", 1), story("s2", 1), story("s2", 2, "merged", "s1", 0), story("s1", 2, size=2)]
    report = check_outputs(["a", "b"], tags, stories)
    assert report.ok and report.redelivered == 2 and report.identical_redeliveries == 1
    assert report.live_stories == 1 and report.stories_without_articles == 0 and report.size_mismatches == 0


def test_each_broken_promise_is_reported():
    tags = [
        tag("a", 1, "s1", True),
        tag("a", 1, "s9", True),  # same (key, version), other content
        tag("b", 1, "s1", True),  # s1 opened by a second article: minted twice
        tag("c", 1, "s3", True),  # s3 retired: not in a live story
    ]
    stories = [story("s1", 1), story("s3", 1), story("s3", 2, "retired"), story("s4", 1), ("s4", None)]
    report = check_outputs(["a", "b", "c", "d"], tags, stories)
    assert not report.ok
    assert report.untagged == ["d"]
    assert report.conflicting_versions == ["tags a@1"]
    assert report.ids_minted_twice == ["s1: opened by ['a', 'b']"]
    assert report.not_in_a_live_story == ["a -> s9 (deleted or never published)", "c -> s3 (retired)"]
