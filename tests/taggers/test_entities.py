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


@pytest.mark.slow
def test_the_vocabulary_does_not_grow_with_the_stream(entity_tagger):
    """An always-on service sees new words forever; each batch's strings are freed after it."""
    entity_tagger.tag([("Warm up", "Warm up")])
    before = len(entity_tagger.nlp.vocab.strings)
    batches = [[(f"Zorblax{i}x{j} visits Quuxville{i}", f"Zorblax{i}x{j} visits Quuxville{i}") for j in range(20)] for i in range(5)]
    found = [entity_tagger.tag(batch) for batch in batches]
    assert len(entity_tagger.nlp.vocab.strings) == before
    assert any(e.canonical.startswith("Zorblax") for batch in found for entities in batch for e in entities)
