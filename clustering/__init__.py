"""Event clustering: online story assignment, periodic HDBSCAN re-clustering, story state.

Plain Python and numpy: takes vectors, entity lists and timestamps, knows
nothing of taggers, Bytewax or Kafka.
"""

from clustering.background import ReclusterWorker
from clustering.online import Assignment, OnlineStoryClusterer, Reassignment
from clustering.recluster import ReclusterResult, recluster, reconcile
from clustering.story import VERSION_SPAN, Story, StoryDoc, next_version

__all__ = [
    "Assignment",
    "OnlineStoryClusterer",
    "Reassignment",
    "ReclusterResult",
    "ReclusterWorker",
    "Story",
    "StoryDoc",
    "VERSION_SPAN",
    "next_version",
    "reconcile",
    "recluster",
]
