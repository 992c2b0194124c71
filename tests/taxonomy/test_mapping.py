from taxonomy import load_iptc_media_topics
from taxonomy.mapping import load_mapping


def test_shipped_mappings_point_at_active_level_one_concepts():
    iptc = load_iptc_media_topics()
    uci = load_mapping("uci-categories", iptc)
    assert uci == {"b": "medtop:04000000", "t": "medtop:13000000", "e": "medtop:01000000", "m": "medtop:07000000"}
    huffpost = load_mapping("huffpost-categories", iptc)
    assert len(huffpost) == 29 and huffpost["U.S. NEWS"] is None
    assert all(iptc[c].level == 1 and iptc[c].active for c in huffpost.values() if c)


def test_curated_aliases_reach_the_upper_levels():
    iptc = load_iptc_media_topics()
    assert "earthquake" in iptc["medtop:03000000"].aliases
    assert load_iptc_media_topics(aliases=False)["medtop:03000000"].aliases == ()
