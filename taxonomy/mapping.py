"""Label mappings: a dataset's own categories to taxonomy codes, so labelled data can train and test taggers.

A mapping is a JSON file `{"mapping": {"label": "code" | null, ...}}`; null
says the category has no taxonomy counterpart (e.g. "U.S. NEWS" is a desk, not
a subject) and its records are left out, and counted.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from taxonomy.tree import Taxonomy

BUILTIN = ("uci-categories", "huffpost-categories")


def load_mapping(path: str | Path, taxonomy: Taxonomy | None = None) -> dict[str, str | None]:
    """Read a mapping (a path, or the name of a shipped one) and check its codes exist in `taxonomy`."""
    if str(path) in BUILTIN:
        text = resources.files("taxonomy").joinpath("mappings", f"{path}.json").read_text(encoding="utf-8")
    else:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"mapping file {path} does not exist (shipped ones: {', '.join(BUILTIN)})")
        text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    mapping = doc.get("mapping") if isinstance(doc, dict) else None
    if not isinstance(mapping, dict) or not mapping:
        raise ValueError(f'mapping {path}: expected {{"mapping": {{label: code or null}}}}')
    if taxonomy is not None:
        unknown = sorted({c for c in mapping.values() if c is not None and c not in taxonomy})
        if unknown:
            raise ValueError(f"mapping {path}: codes not in taxonomy {taxonomy.name!r}: {', '.join(unknown)}")
    return mapping
