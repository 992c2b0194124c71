"""An undo log, so a batch that fails halfway leaves the clustering state exactly as before it.

Copying the state before every batch would copy the window's matrix (~77 MB at
50k articles) for every 64 articles. Instead, while a transaction is open,
each mutation records its inverse: the old value of an item or attribute, the
old contents of an array row, or a before-image of an object the first time the
transaction changes it (as a database's undo log keeps a page's before-image).
`rollback` applies them newest first, so the cost of a batch's journal is
O(the changes it makes), and nothing is kept once it commits.
"""

from __future__ import annotations

from typing import Any, Callable, MutableMapping


class Journal:
    """Inverse operations of one open transaction, applied newest first by `rollback`."""

    def __init__(self) -> None:
        self._undo: list[tuple[Callable[..., Any], tuple]] = []
        self._imaged: set[int] = set()  # ids of objects whose before-image is recorded (the record keeps them alive)

    def __len__(self) -> int:
        return len(self._undo)

    def record(self, undo: Callable[..., Any], *args: Any) -> None:
        """`undo(*args)` reverts the mutation just made."""
        self._undo.append((undo, args))

    def first_change(self, obj: object) -> bool:
        """True the first time `obj` is changed in this transaction: its before-image is due (record it, with `obj` in it)."""
        key = id(obj)
        if key in self._imaged:
            return False
        self._imaged.add(key)
        return True

    def created(self, obj: object) -> None:
        """`obj` was made in this transaction: a rollback drops it, so it needs no before-image."""
        self._imaged.add(id(obj))
        self._undo.append((_keep, (obj,)))  # holds it, so its id is not reused while the transaction is open

    def set_item(self, mapping: MutableMapping, key: Any, value: Any) -> None:
        """`mapping[key] = value`, revertible (a replaced value goes back in place, a new key is removed)."""
        if key in mapping:
            old = mapping[key]
            if old is not value:
                self.record(mapping.__setitem__, key, old)
        else:
            self.record(mapping.pop, key)
        mapping[key] = value

    def del_item(self, mapping: MutableMapping, key: Any) -> Any:
        """`mapping.pop(key)`, revertible; the key comes back at the end, so an ordered mapping needs its order restored."""
        value = mapping.pop(key)
        self.record(mapping.__setitem__, key, value)
        return value

    def rollback(self) -> None:
        while self._undo:
            undo, args = self._undo.pop()
            undo(*args)
        self._imaged.clear()


def _keep(obj: object) -> None:
    """The undo of creating an object: nothing (the records that added it somewhere take it out)."""


def set_item(journal: Journal | None, mapping: MutableMapping, key: Any, value: Any) -> None:
    """`mapping[key] = value`, journaled when a transaction is open."""
    if journal is None:
        mapping[key] = value
    else:
        journal.set_item(mapping, key, value)


def del_item(journal: Journal | None, mapping: MutableMapping, key: Any) -> Any:
    """`mapping.pop(key)`, journaled when a transaction is open."""
    return mapping.pop(key) if journal is None else journal.del_item(mapping, key)
