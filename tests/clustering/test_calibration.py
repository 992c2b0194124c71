import numpy as np

from clustering import OnlineStoryClusterer, StoryDoc
from clustering.calibration import CosineBackground


def feed(rng, n, dim, shared):
    """Unrelated articles whose vectors share a common component: 0 for headlines, more for full text."""
    common = np.ones(dim) / np.sqrt(dim)
    vectors = shared * common + rng.normal(size=(n, dim)) / np.sqrt(dim)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def related(rng, vector, z, background):
    """A vector whose cosine to `vector` stands `z` robust deviations above the feed's unrelated pairs."""
    target = float(background.median_ + z * background.scale_)
    noise = rng.normal(size=len(vector))
    noise -= (noise @ vector) * vector
    noise /= np.linalg.norm(noise)
    out = target * vector + np.sqrt(1 - target**2) * noise
    return out.astype(np.float32)


def test_background_is_the_median_and_spread_of_unrelated_pairs_in_this_feed():
    rng = np.random.default_rng(0)
    for shared in (0.0, 0.6):
        vectors = feed(rng, 3000, 64, shared)
        background = CosineBackground(sample_size=256)
        for v in vectors:
            background.observe(v)
        pairs = (vectors[:500] @ vectors[500:1000].T).ravel()
        assert abs(background.median_ - np.median(pairs)) < 0.01
        assert abs(background.scale_ - pairs.std()) < 0.2 * pairs.std()


def test_one_threshold_separates_related_from_unrelated_on_feeds_of_different_length():
    """Full text raises every cosine; the calibrated score keeps one threshold right on both feeds."""
    rng = np.random.default_rng(1)
    for shared in (0.0, 0.6):
        vectors = feed(rng, 1000, 128, shared)
        c = OnlineStoryClusterer(threshold=4.5, weight_entities=0.0, recluster_every=0)
        docs = [StoryDoc(f"u{i}", v, float(i)) for i, v in enumerate(vectors)]
        assignments = c.partial_fit_predict(docs)
        assert sum(a.is_new for a in assignments) >= 0.98 * len(docs), "unrelated articles of this feed each open a story"
        (follow_up,) = c.partial_fit_predict([StoryDoc("f", related(rng, vectors[-1], 6.0, c._cosines), 1000.0)])
        assert not follow_up.is_new and follow_up.story_id == assignments[-1].story_id
