"""Print which top-level folder imports which, from the code itself (grimp), as a Markdown table.

Usage: python docs/import_graph.py [SOURCE_TREE]   (default: the repository this file is in)
docs/architecture.md keeps its output from before and after the split of flows/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

PACKAGES = ("commands", "flows", "evaluation", "training", "admin", "replay", "taggers", "taxonomy", "clustering", "service", "abtest", "export", "spark")
EXTERNAL = ("bytewax", "confluent_kafka", "fastapi")


def folder_graph(tree: Path) -> dict[str, set[str]]:
    """{folder: the folders (and watched third-party packages) its modules import}."""
    sys.path.insert(0, str(tree))
    present = [p for p in PACKAGES if (tree / p / "__init__.py").exists()]
    graph = grimp.build_graph(*present, include_external_packages=True, cache_dir=None)
    edges: dict[str, set[str]] = {p: set() for p in present}
    for module in graph.modules:
        source = module.split(".")[0]
        if source not in edges:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")[0]
            if target != source and (target in edges or target in EXTERNAL):
                edges[source].add(target)
    return edges


def main() -> None:
    tree = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    edges = folder_graph(tree)
    modules = {p: len(list((tree / p).rglob("*.py"))) for p in edges}
    lines = {p: sum(len(f.read_text().splitlines()) for f in (tree / p).rglob("*.py")) for p in edges}
    print("| folder | modules | lines | imports |")
    print("|---|---|---|---|")
    for folder in edges:
        print(f"| `{folder}/` | {modules[folder]} | {lines[folder]:,} | {', '.join(sorted(edges[folder])) or '-'} |")


if __name__ == "__main__":
    main()
