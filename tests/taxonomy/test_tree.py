import pytest

from taxonomy import Concept, Taxonomy, load_iptc_media_topics, load_taxonomy


@pytest.fixture(scope="module")
def iptc() -> Taxonomy:
    return load_iptc_media_topics()


def test_iptc_has_the_17_active_top_level_topics(iptc):
    roots = iptc.roots()
    assert len(roots) == 17
    assert {c.label for c in roots} >= {"sport", "health", "economy, business and finance", "politics and government"}
    assert "CC BY 4.0" in iptc.attribution


def test_children_and_ancestors_follow_the_tree(iptc):
    economy = "medtop:04000000"
    children = iptc.children(economy)
    assert children and all(c.parent == economy and c.level == 2 for c in children)
    grandchild = iptc.children(children[0].code)[0]
    assert [a.code for a in iptc.ancestors(grandchild.code)] == [economy, children[0].code]


def test_retired_concepts_are_hidden_unless_asked_for(iptc):
    retired = [c for c in iptc.concepts.values() if not c.active]
    assert retired, "the IPTC data has retired concepts"
    visible = {c.code for c in iptc.walk()}
    assert not visible & {c.code for c in retired}
    assert {c.code for c in retired} <= {c.code for c in iptc.walk(include_retired=True)}


def test_unknown_code_names_the_taxonomy(iptc):
    with pytest.raises(KeyError, match="medtop:99999999"):
        iptc["medtop:99999999"]


def test_custom_taxonomy_from_csv(tmp_path):
    path = tmp_path / "desk.csv"
    path.write_text("code,label,parent,aliases\nnews,News,,\nsport,Sport,news,athletics|games\nfootball,Football,sport,soccer\n")
    tax = load_taxonomy(path)
    assert tax["football"].level == 3
    assert tax["sport"].aliases == ("athletics", "games")
    assert [c.code for c in tax.ancestors("football")] == ["news", "sport"]


def test_custom_taxonomy_rejects_a_missing_parent():
    with pytest.raises(ValueError, match="names parent 'nowhere'"):
        Taxonomy.from_concepts("t", [Concept("a", "A", 2, parent="nowhere")])
