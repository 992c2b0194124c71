"""How unusual a cosine is in this stream, so one join threshold means the same on every feed.

Cosines between unrelated articles sit higher and spread wider for full text
than for headlines (median 0.09 and 0.05 with all-MiniLM-L6-v2 on the dev
sets), so a raw-cosine threshold tuned on headlines merges full-text events
of one kind. `CosineBackground` keeps a sample of the stream's articles and a
decaying histogram of the cosines between each new article and that sample:
almost all of those pairs are unrelated, and their median and inter-quartile
spread (robust to the few related pairs) turn a cosine into "standard
deviations above unrelated" for this stream.
With a `journal`, `observe` records its before-image (clustering.journal).
"""

from __future__ import annotations

import numpy as np

from clustering.journal import Journal

_BINS = 400  # cosines in [-1, 1], 0.005 wide
_REFRESH_EVERY = 16  # articles between re-reading the quantiles (they move slowly once the sample is full)
_IQR_TO_SD = 1.349  # inter-quartile range of a normal distribution, in standard deviations


class CosineBackground:
    """A robust location and scale of the cosines between unrelated articles of one stream.

    `sample_size` articles are kept by reservoir sampling (seeded, so replays
    repeat); every observed article adds its cosines to that sample to a
    histogram whose weight halves every `half_life` articles, so the
    background follows a feed that changes. Until the stream has spoken, a
    prior (`prior_median`, `prior_scale`, worth `prior_weight` pairs) holds.
    """

    def __init__(
        self,
        *,
        sample_size: int = 256,
        half_life: int = 20_000,
        prior_median: float = 0.08,
        prior_scale: float = 0.10,
        prior_weight: float = 2_000.0,
        seed: int = 0,
    ) -> None:
        self.sample_size = sample_size
        self.half_life = half_life
        centers = np.linspace(-1.0, 1.0, _BINS + 1)[:-1] + 1.0 / _BINS
        prior = np.exp(-0.5 * ((centers - prior_median) / prior_scale) ** 2)
        self._histogram = prior * (prior_weight / prior.sum())
        self._decay = 0.5 ** (1.0 / half_life)
        self._sample: np.ndarray | None = None
        self._seen = 0
        self._rng = np.random.default_rng(seed)
        self.median_, self.scale_ = prior_median, prior_scale

    def observe(self, vector: np.ndarray, journal: Journal | None = None) -> None:
        """Add the article's cosines to the sample to the histogram, then offer it to the sample."""
        if journal is not None and journal.first_change(self):
            journal.record(self._restore, self, self.__dict__.copy(), self._histogram.copy(), self._rng.bit_generator.state)
        if self._sample is None:
            self._sample = np.zeros((self.sample_size, len(vector)), dtype=np.float32)
        filled = min(self._seen, self.sample_size)
        if filled:
            cosines = self._sample[:filled] @ vector
            cosines = cosines[np.isfinite(cosines)]  # a degenerate vector must not poison the histogram
            bins = np.clip(((cosines + 1.0) * (_BINS / 2)).astype(np.intp), 0, _BINS - 1)
            self._histogram *= self._decay
            self._histogram += np.bincount(bins, minlength=_BINS)
            if self._seen % _REFRESH_EVERY == 0 or self._seen < self.sample_size:
                self.median_, self.scale_ = self._location_and_scale()
        self._seen += 1
        slot = self._seen - 1 if self._seen <= self.sample_size else int(self._rng.integers(0, self._seen))
        if slot < self.sample_size:
            if journal is not None:
                journal.record(self._sample.__setitem__, slot, self._sample[slot].copy())
            self._sample[slot] = vector

    @staticmethod
    def _restore(background: "CosineBackground", attributes: dict, histogram: np.ndarray, rng_state: dict) -> None:
        """Back to a before-image: the histogram and the generator change in place, the sample's rows are undone one by one."""
        background.__dict__.clear()
        background.__dict__.update(attributes)
        background._histogram[:] = histogram
        background._rng.bit_generator.state = rng_state

    def standardize(self, cosine: np.ndarray) -> np.ndarray:
        """Cosines in robust standard deviations above the stream's unrelated pairs."""
        return (cosine - self.median_) / self.scale_

    def _location_and_scale(self) -> tuple[float, float]:
        cumulative = np.cumsum(self._histogram)
        edges = np.linspace(-1.0, 1.0, _BINS + 1)[1:]
        q25, q50, q75 = np.interp(np.array([0.25, 0.5, 0.75]) * cumulative[-1], cumulative, edges)
        return float(q50), max(float(q75 - q25) / _IQR_TO_SD, 1e-3)
