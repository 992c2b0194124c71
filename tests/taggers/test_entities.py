import pytest

from taggers.entities import _Mention, canonicalize, normalize


def test_variants_of_one_name_collapse_with_counts_and_title_flag():
    mentions = [
        _Mention("Joe Biden", "PERSON", True),
        _Mention("Biden", "PERSON", False),
        _Mention("Biden's", "PERSON", False),
        _Mention("Northwind", "ORG", False),
        _Mention("Northwind Motors", "ORG", False),
        _Mention("Japan", "GPE", False),
    ]
    entities = {e.canonical: e for e in canonicalize(mentions)}
    assert set(entities) == {"Joe Biden", "Northwind Motors", "Japan"}
    assert entities["Joe Biden"].count == 3 and entities["Joe Biden"].in_title
    assert entities["Northwind Motors"].count == 2 and not entities["Northwind Motors"].in_title


def test_short_forms_do_not_merge_across_kinds():
    entities = canonicalize([_Mention("Jordan", "GPE", False), _Mention("Michael Jordan", "PERSON", False)])
    assert {e.canonical for e in entities} == {"Jordan", "Michael Jordan"}


@pytest.mark.parametrize("raw, clean", [("the Fed", "Fed"), ("Chile's", "Chile"), ("U.S.", "U.S."), ("  New   York ", "New York")])
def test_normalize(raw, clean):
    assert normalize(raw) == clean


@pytest.mark.slow
def test_spacy_tagger_finds_people_places_and_organisations(entity_tagger):
    title = "Chile earthquake: Boric visits Valparaiso"
    text = title + ". President Gabriel Boric said Chile's navy and the Red Cross would help. Boric promised funds."
    (entities,) = entity_tagger.tag([(title, text)])
    by_name = {e.canonical: e for e in entities}
    assert "Gabriel Boric" in by_name and by_name["Gabriel Boric"].count >= 2 and by_name["Gabriel Boric"].in_title
    assert by_name["Valparaiso"].in_title
    assert all(e.label not in ("DATE", "CARDINAL", "MONEY") for e in entities)
    assert entity_tagger.version.startswith("spacy:en_")
