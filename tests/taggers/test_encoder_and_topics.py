import numpy as np
import pytest

from taggers import ZeroShotTopicClassifier
from taxonomy import Concept, Taxonomy, load_iptc_media_topics


class TableEncoder:
    """A fixed text -> vector table, to test the thresholding logic exactly."""

    version = "table"

    def __init__(self, table):
        self.table = table

    def encode(self, texts):
        return np.array([self.table[t] for t in texts], dtype=np.float32)


def tiny_taxonomy():
    return Taxonomy.from_concepts(
        "tiny",
        [
            Concept("sport", "sport", 1),
            Concept("football", "football", 2, parent="sport"),
            Concept("tennis", "tennis", 2, parent="sport"),
            Concept("health", "health", 1),
        ],
    )


def test_hierarchy_thresholds_and_margin():
    enc = TableEncoder({"sport": [1, 0, 0, 0], "football": [0.8, 0.6, 0, 0], "tennis": [0.8, 0, 0.6, 0], "health": [0, 0, 0, 1]})
    clf = ZeroShotTopicClassifier(tiny_taxonomy(), enc, thresholds={1: 0.5, 2: 0.5}, margin=0.1, top_k=1).fit()
    article = np.array([[0.8, 0.6, 0, 0]], dtype=np.float32)
    (topics,) = clf.predict(article)
    assert [(t.code, t.level) for t in topics] == [("sport", 1), ("football", 2)]
    football = topics[1]
    assert football.ancestors == ("sport",) and football.evidence[0]["kind"] == "embedding"
    assert football.evidence[0]["score"] == pytest.approx(1.0) and football.evidence[0]["matched"] == "football"
    (none,) = clf.predict(np.array([[0, 0.1, 0.1, 0.3]], dtype=np.float32))
    assert none == []  # nothing clears the level-1 threshold, so no children are tried


def test_a_concept_scores_the_mean_of_its_best_texts_so_aliases_count():
    taxonomy = Taxonomy.from_concepts("t", [Concept("biz", "business", 1, aliases=("stocks", "earnings")), Concept("art", "arts", 1)])
    enc = TableEncoder({"business": [1, 0, 0], "stocks": [0, 1, 0], "earnings": [0.6, 0.8, 0], "arts": [0, 0, 1]})
    clf = ZeroShotTopicClassifier(taxonomy, enc, levels=(1,), top_k=2).fit()
    scores = clf.decision_function(np.array([[0, 1, 0]], dtype=np.float32), ["biz", "art"])
    assert scores[0].tolist() == pytest.approx([(1.0 + 0.8) / 2, 0.0])
    (topics,) = clf.predict(np.array([[0, 1, 0]], dtype=np.float32))
    assert topics[0].code == "biz" and topics[0].evidence[0]["matched"] == "stocks"


@pytest.mark.slow
def test_encoder_vectors_are_normalised_and_meaningful(encoder):
    v = encoder.encode(["Earthquake hits central Chile", "Strong quake shakes Chile", "Arsenal beat Bayern Munich"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_zero_shot_iptc_topics_on_clear_headlines(encoder):
    clf = ZeroShotTopicClassifier(load_iptc_media_topics(), encoder).fit()
    headlines = [
        "Magnitude 6.4 earthquake injures seven and damages homes in Hokkaido",
        "Socialists win most seats in Portugal's parliamentary election",
        "Kenyan runner sets course record at Tokyo Marathon",
    ]
    expected = ["medtop:03000000", "medtop:11000000", "medtop:15000000"]
    for topics, code in zip(clf.predict(encoder.encode(headlines)), expected):
        level1 = [t.code for t in topics if t.level == 1]
        assert code in level1
        assert all(t.ancestors for t in topics if t.level == 2)
