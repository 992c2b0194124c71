"""Article taggers: spaCy entities, sentence embeddings and taxonomy topics (no Bytewax, no Kafka)."""

import sys

# torch imports triton (a GPU kernel compiler) only to ask whether it is there; storywire never compiles
# kernels, and triton's bindings print ~600 "nanobind: leaked ..." lines at every interpreter exit
sys.modules.setdefault("triton", None)  # type: ignore[arg-type]  # None: "import triton" raises ImportError

from taggers.cache import CachedEncoder
from taggers.encoder import SentenceEncoder, default_model_path
from taggers.entities import DEFAULT_LABELS, DEFAULT_SPACY_MODEL, Entity, EntityTagger
from taggers.topics import Topic, ZeroShotTopicClassifier

__all__ = [
    "CachedEncoder",
    "DEFAULT_LABELS",
    "DEFAULT_SPACY_MODEL",
    "Entity",
    "EntityTagger",
    "SentenceEncoder",
    "Topic",
    "ZeroShotTopicClassifier",
    "default_model_path",
]
