"""Taxonomies of news topics: the concept tree and its loaders (IPTC Media Topics shipped)."""

from taxonomy.loaders import load_iptc_media_topics, load_taxonomy
from taxonomy.tree import Concept, Taxonomy

__all__ = ["Concept", "Taxonomy", "load_iptc_media_topics", "load_taxonomy"]
