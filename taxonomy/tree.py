"""The taxonomy model: a tree of concepts with lookups by code, children and ancestors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Concept:
    """One taxonomy node. `retired` holds the retirement date, or None while active."""

    code: str
    label: str
    level: int
    parent: str | None = None
    definition: str = ""
    aliases: tuple[str, ...] = ()
    retired: str | None = None

    @property
    def active(self) -> bool:
        return self.retired is None


@dataclass
class Taxonomy:
    """A tree of concepts.

    Retired concepts are kept (old tags must stay resolvable) but are skipped by
    the navigation methods unless `include_retired=True`.
    """

    name: str
    concepts: dict[str, Concept]
    attribution: str = ""
    _children: dict[str | None, list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._children = {}
        for concept in self.concepts.values():
            if concept.parent is not None and concept.parent not in self.concepts:
                raise ValueError(f"taxonomy {self.name!r}: concept {concept.code!r} names parent {concept.parent!r}, which is not in the taxonomy")
            self._children.setdefault(concept.parent, []).append(concept.code)

    @classmethod
    def from_concepts(cls, name: str, concepts: Iterable[Concept], attribution: str = "") -> "Taxonomy":
        by_code: dict[str, Concept] = {}
        for concept in concepts:
            if concept.code in by_code:
                raise ValueError(f"taxonomy {name!r}: concept code {concept.code!r} appears twice")
            by_code[concept.code] = concept
        return cls(name=name, concepts=by_code, attribution=attribution)

    def __len__(self) -> int:
        return len(self.concepts)

    def __contains__(self, code: object) -> bool:
        return code in self.concepts

    def __getitem__(self, code: str) -> Concept:
        try:
            return self.concepts[code]
        except KeyError:
            raise KeyError(f"no concept {code!r} in taxonomy {self.name!r}") from None

    def _visible(self, codes: Iterable[str], include_retired: bool) -> list[Concept]:
        return [self.concepts[c] for c in codes if include_retired or self.concepts[c].active]

    def roots(self, include_retired: bool = False) -> list[Concept]:
        return self._visible(self._children.get(None, []), include_retired)

    def children(self, code: str, include_retired: bool = False) -> list[Concept]:
        self[code]
        return self._visible(self._children.get(code, []), include_retired)

    def ancestors(self, code: str) -> list[Concept]:
        """Ancestors from the root down to the parent of `code`."""
        chain: list[Concept] = []
        parent = self[code].parent
        while parent is not None:
            chain.append(self.concepts[parent])
            parent = self.concepts[parent].parent
        return chain[::-1]

    def at_level(self, level: int, include_retired: bool = False) -> list[Concept]:
        return [c for c in self.walk(include_retired=include_retired) if c.level == level]

    def walk(self, code: str | None = None, include_retired: bool = False) -> Iterator[Concept]:
        """Depth-first walk of the subtree under `code` (the whole tree when None)."""
        stack = [code] if code is not None else list(reversed(self._children.get(None, [])))
        while stack:
            current = self[stack.pop()]
            if not (include_retired or current.active):
                continue
            yield current
            stack.extend(reversed(self._children.get(current.code, [])))

    def outline(self, code: str | None = None, depth: int = 2, include_retired: bool = False, aliases: bool = False) -> list[str]:
        """`code` (every root without it) and its descendants down to `depth` levels, indented: `taxonomy show`."""
        lines = []
        for root in [self[code]] if code else self.roots(include_retired):
            for concept in self.walk(root.code, include_retired):
                below = concept.level - root.level
                if below > depth:
                    continue
                extra = f"  (retired {concept.retired})" if concept.retired else ""
                extra += f"  aliases: {', '.join(concept.aliases)}" if aliases and concept.aliases else ""
                lines.append(f"{'  ' * below}{concept.code}  {concept.label}{extra}")
        return lines
