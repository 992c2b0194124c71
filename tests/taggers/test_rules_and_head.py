"""Rule topics with their evidence spans, merged topics, and the trained topic head."""

import numpy as np
import pytest

from taggers.rules import RuleTopicTagger
from taggers.topic_head import TopicHead
from taggers.topics import HeadTopicClassifier, Topic, merge_topics
from taxonomy import Concept, Taxonomy, load_iptc_media_topics


def tiny_taxonomy():
    return Taxonomy.from_concepts(
        "tiny",
        [
            Concept("sport", "sport", 1, aliases=("World Cup",)),
            Concept("football", "football", 2, parent="sport", aliases=("penalty kick",)),
            Concept("disaster", "disaster", 1, aliases=("earthquake",)),
        ],
    )


def test_rules_match_labels_and_aliases_case_insensitively_with_spans():
    tagger = RuleTopicTagger(tiny_taxonomy()).fit()
    (topics, none) = tagger.predict(["EARTHQUAKE delays World Cup football qualifier", "Parliament passes budget"])
    assert none == []
    by_code = {t.code: t for t in topics}
    assert set(by_code) == {"sport", "football", "disaster"}
    assert by_code["football"].ancestors == ("sport",) and by_code["football"].level == 2
    quake = by_code["disaster"].evidence
    assert quake == ({"kind": "rule", "span": "EARTHQUAKE", "start": 0, "end": 10},)
    assert by_code["sport"].evidence[0]["span"] == "World Cup"


def test_rules_match_whole_tokens_only():
    (topics,) = RuleTopicTagger(tiny_taxonomy()).fit().predict(["Sportswear maker beats forecasts"])
    assert topics == []


def test_rules_keep_their_vocabulary_bounded():
    tagger = RuleTopicTagger(tiny_taxonomy()).fit()
    before = len(tagger.nlp_.vocab.strings)
    for i in range(5):
        (topics,) = tagger.predict([f"Earthquake hits Quuxville{i} near Zorblax{i}"])
        assert [t.code for t in topics] == ["disaster"]
    assert len(tagger.nlp_.vocab.strings) == before


def test_rules_on_iptc_use_the_curated_aliases():
    tagger = RuleTopicTagger(load_iptc_media_topics(), levels=(1,)).fit()
    (topics,) = tagger.predict(["Federal Reserve holds interest rates as inflation cools"])
    assert [t.code for t in topics] == ["medtop:04000000"]
    assert {e["span"] for e in topics[0].evidence} == {"Federal Reserve", "interest rates", "inflation"}


def test_merged_topics_keep_every_taggers_evidence():
    emb = Topic("sport", "sport", 1, 0.4, (), ({"kind": "embedding", "score": 0.4},))
    rule = Topic("sport", "sport", 1, 1.0, (), ({"kind": "rule", "span": "World Cup"},))
    (merged,) = merge_topics([emb], [rule])
    assert merged.score == 1.0 and [e["kind"] for e in merged.evidence] == ["embedding", "rule"]


def test_topic_head_learns_saves_and_loads(tmp_path):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal([1, 0, 0], 0.2, (40, 3)), rng.normal([0, 1, 0], 0.2, (40, 3))])
    y = ["sport"] * 40 + ["disaster"] * 40
    head = TopicHead().fit(X, y, encoder_version="enc@1", metadata={"name": "tiny"})
    assert (head.predict(X) == np.array(y)).mean() > 0.95
    head.save(tmp_path / "head.json")
    loaded = TopicHead.load(tmp_path / "head.json")
    assert np.allclose(loaded.predict_proba(X), head.predict_proba(X)) and loaded.encoder_version_ == "enc@1"
    (topics,) = HeadTopicClassifier(tiny_taxonomy(), loaded).predict(np.array([[1.0, 0, 0]]))
    assert topics[0].code == "sport" and topics[0].evidence[0]["kind"] == "head" and topics[0].evidence[0]["probability"] > 0.5


def test_a_head_for_another_taxonomy_is_refused():
    head = TopicHead().fit(np.eye(2), ["x", "y"])
    with pytest.raises(ValueError, match="not in taxonomy"):
        HeadTopicClassifier(tiny_taxonomy(), head)


def test_a_broken_head_file_says_how_to_fix_it(tmp_path):
    (tmp_path / "h.json").write_text("{}")
    with pytest.raises(ValueError, match="not a storywire topic head"):
        TopicHead.load(tmp_path / "h.json")
