"""Event time that one record cannot corrupt: the reference a shard checks `published_at` against.

The clusterer's watermark is the latest `published_at` it has seen, so a single
article dated years ahead would make every later article `late` and retire
every live story. Before an article reaches the clusterer, its time is checked against the
stream's own event time, the median `published_at` of the shard's last
`RECENT` articles (one outlier cannot move a median; a real jump moves it
after half of them):

- more than `limits.max_future_skew` hours ahead of the reference, the article
  is clustered at the reference instead (flag `published-at-clamped`; its tags
  keep the published_at it was sent with). The reference is the receive time
  live (where the median of a quiet shard may be days old), and the median,
  but never later than the receive time, in replays (archives are past);
- more than `limits.max_age` hours before the median, it is a dead letter.
  The receive time is not used here, so an archive produced into Kafka
  (`storywire replay --to-kafka`) runs live as it does replayed.

Every checked time counts towards the median, accepted or not, so neither a
real jump in an archive's time nor a wrong median locks the clock: it follows
after RECENT // 2 articles. A replayed shard has no receive time to fall back
on, so its first WARM_UP articles are judged together, against their own
median (the clustering step holds them until then, or until the input ends);
live, the receive time is the reference from the first article on.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass, field

from flows.config import LimitsConfig
from flows.schema import iso

HOUR = 3600.0
RECENT = 15
WARM_UP = 7
CLAMPED = "published-at-clamped"


class TooOld(ValueError):
    """published_at is further in the past than limits.max_age allows; the message says by how much."""


@dataclass
class EventClock:
    """Per-shard reference time (picklable: it is part of the shard's snapshot)."""

    max_future_skew_s: float
    max_age_s: float
    live: bool
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))

    @classmethod
    def of(cls, limits: LimitsConfig, live: bool) -> "EventClock":
        return cls(limits.max_future_skew * HOUR, limits.max_age * HOUR, live)

    @property
    def warm(self) -> bool:
        """Whether articles can be judged one by one (live: always; replays: after WARM_UP articles)."""
        return self.live or len(self.recent) >= WARM_UP

    def prime(self, published: list[float]) -> None:
        """A replayed shard's first articles: they are judged against the median of their own times."""
        self.recent.extend(published[-RECENT:])

    def check(self, published_at: float, received_at: float) -> tuple[float, bool]:
        """(the time to cluster the article at, whether it was clamped); raises TooOld."""
        median = statistics.median_low(self.recent) if self.recent else None
        self.recent.append(published_at)  # primed times count twice for a while: their median does not change
        if median is not None and published_at < median - self.max_age_s:
            raise TooOld(
                f"published_at {iso(published_at)} is {(median - published_at) / HOUR:.0f} h before the stream's "
                f"event time {iso(median)} (limits.max_age = {self.max_age_s / HOUR:g} h)"
            )
        reference = received_at if self.live or median is None else min(median, received_at)
        if published_at > reference + self.max_future_skew_s:
            return reference, True
        return published_at, False
