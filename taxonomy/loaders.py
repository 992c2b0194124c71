"""Loading taxonomies: the shipped IPTC Media Topics and custom files."""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path

from taxonomy.tree import Concept, Taxonomy

IPTC_RESOURCE = "iptc-mediatopics.json"
IPTC_ALIASES = "iptc-aliases.json"


def load_iptc_media_topics(aliases: bool = True) -> Taxonomy:
    """IPTC Media Topics (2025-03-31), shipped with the package under CC BY 4.0.

    With `aliases`, the upper-level concepts carry the team's curated aliases
    (taxonomy/data/iptc-aliases.json) for the rule tagger and zero-shot texts.
    """
    data = resources.files("taxonomy").joinpath("data")
    doc = json.loads(data.joinpath(IPTC_RESOURCE).read_text(encoding="utf-8"))
    if aliases:
        curated = json.loads(data.joinpath(IPTC_ALIASES).read_text(encoding="utf-8"))["aliases"]
        for concept in doc["concepts"]:
            concept["aliases"] = list(dict.fromkeys([*concept.get("aliases", ()), *curated.get(concept["code"], ())]))
    return _from_document(doc)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load the taxonomy named in the config: None or "iptc" means IPTC Media Topics.

    Custom taxonomies are a JSON document like the shipped one, or a CSV/TSV with
    columns `code,label,parent[,definition,aliases]` (aliases separated by `|`).
    """
    if path is None or str(path) == "iptc":
        return load_iptc_media_topics()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"taxonomy file {path} does not exist (use 'iptc' for the built-in one)")
    if path.suffix == ".json":
        return _from_document(json.loads(path.read_text(encoding="utf-8")))
    if path.suffix in (".csv", ".tsv"):
        return _from_table(path, delimiter="\t" if path.suffix == ".tsv" else ",")
    raise ValueError(f"taxonomy file {path}: expected .json, .csv or .tsv")


def _from_document(doc: dict) -> Taxonomy:
    concepts = [
        Concept(
            code=c["code"],
            label=c["label"],
            level=int(c["level"]),
            parent=c.get("parent"),
            definition=c.get("definition") or "",
            aliases=tuple(c.get("aliases", ())),
            retired=c.get("retired"),
        )
        for c in doc["concepts"]
    ]
    return Taxonomy.from_concepts(doc.get("name", "custom"), concepts, doc.get("attribution", ""))


def _from_table(path: Path, delimiter: str) -> Taxonomy:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter=delimiter))
    missing = {"code", "label", "parent"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"taxonomy file {path}: missing column(s) {sorted(missing)}")
    parents = {r["code"]: (r["parent"] or None) for r in rows}

    def level(code: str) -> int:
        depth = 1
        while (parent := parents.get(code)) is not None:
            code = parent
            depth += 1
            if depth > len(parents):
                raise ValueError(f"taxonomy file {path}: parent cycle through {code!r}")
        return depth

    concepts = [
        Concept(
            code=r["code"],
            label=r["label"],
            level=level(r["code"]),
            parent=r["parent"] or None,
            definition=r.get("definition") or "",
            aliases=tuple(a.strip() for a in (r.get("aliases") or "").split("|") if a.strip()),
        )
        for r in rows
    ]
    return Taxonomy.from_concepts(path.stem, concepts)
