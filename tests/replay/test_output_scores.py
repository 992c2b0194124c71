from replay.output_scores import resolve, stability, weekly_f1


def tag(article_id, version, story):
    return {"id": article_id, "version": version, "story": {"id": story}}


def test_merges_are_not_churn_but_other_moves_are():
    tags = [
        tag("a", 1, "s1"),
        tag("b", 1, "s2"),
        tag("b", 2, "s1"),  # b's story s2 was merged into s1
        tag("c", 1, "s3"),
        tag("c", 2, "s4"),  # c moved for another reason
        tag("d", 1, "s4"),
    ]
    stories = [{"cluster_id": "s2", "merged_into": "s1"}, {"cluster_id": "s1", "merged_into": None}]
    result, final = stability(tags, stories)
    assert result.merged_fraction == 0.25 and result.id_churn == 0.25
    assert final == {"a": "s1", "b": "s1", "c": "s4", "d": "s4"}


def test_resolve_follows_chains_and_stops_on_cycles():
    assert resolve("a", {"a": "b", "b": "c"}) == "c"
    assert resolve("a", {"a": "b", "b": "a"}) in ("a", "b")


def test_weekly_f1_splits_by_iso_week():
    final = {"1": "x", "2": "x", "3": "y", "4": "z"}
    labels = {"1": "A", "2": "A", "3": "B", "4": "B"}
    published = {"1": 1772400000.0, "2": 1772400000.0, "3": 1773000000.0, "4": 1773000000.0}  # 2026-W09, 2026-W10
    assert weekly_f1(final, labels, published) == {"2026-W09": 1.0, "2026-W10": 0.6667}
