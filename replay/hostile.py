"""Hostile input records for fuzzing the flow: mutations of real articles.

Each mutation takes a random generator and one real article (a JSON object)
and returns the bytes a broken, careless or malicious producer could send:
byte flips, truncation, lone surrogate escapes, giant numbers and strings,
deep nesting, wrong types, nulls, duplicate keys, a BOM, NUL and control
characters, random `lang`s, absurd dates, exact re-deliveries and edits.
Used by the property-based tests and by `benchmarks/fuzz.py`; the rare huge
cases (a 1.1 MB title, 100,000 nested brackets) are drawn rarely, so a fuzz
archive of 100,000 records stays in the tens of megabytes.
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable

Mutation = Callable[[random.Random, dict[str, Any]], bytes]

TEXT_FIELDS = ("id", "title", "summary", "body", "lang", "source", "url")
ABSURD_DATES: tuple[Any, ...] = (
    "9999-12-31T23:00:00Z",
    "2099-06-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "1970-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "2026-03-01T00:00:00",
    "",
    -1,
    0,
    1e20,
    1772431800,  # epoch seconds where milliseconds are expected
    4102444800000,
    "9" * 70,
)
WEIRD_VALUES: tuple[Any, ...] = (None, True, 0, -1.5, [], {}, ["a"], {"a": {"b": None}}, "", " ", "\x00")


def _dump(doc: Any) -> bytes:
    return json.dumps(doc).encode("utf-8")


def byte_flips(rng: random.Random, doc: dict) -> bytes:
    raw = bytearray(_dump(doc))
    for _ in range(rng.randint(1, 8)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def truncation(rng: random.Random, doc: dict) -> bytes:
    raw = _dump(doc)
    return raw[: rng.randrange(len(raw))]


def lone_surrogate(rng: random.Random, doc: dict) -> bytes:
    name = rng.choice(("title", "id", "lang", "summary"))
    value = f"{doc.get(name) or ''} {chr(rng.randrange(0xD800, 0xE000))} x"
    return _dump({**doc, name: value})  # json.dumps writes the surrogate as a \\udxxx escape


def giant_number(rng: random.Random, doc: dict) -> bytes:
    digits = b"9" * rng.choices((20, 400, 5000, 50_000), (4, 3, 2, 1))[0]
    where = rng.choice(("views", "published_at"))
    raw = _dump({**doc, where: 0})
    return raw.replace(f'"{where}": 0'.encode(), f'"{where}": {digits.decode()}'.encode())


def giant_string(rng: random.Random, doc: dict) -> bytes:
    name = rng.choice(("title", "id", "body", "summary", "extra"))
    return _dump({**doc, name: "x" * rng.choices((1100, 30_000, 300_000, 1_100_000), (70, 27, 2, 1))[0]})


def deep_nesting(rng: random.Random, doc: dict) -> bytes:
    depth = rng.choices((33, 1000, 100_000), (60, 35, 5))[0]
    nested = "[" * depth + "]" * depth
    if rng.random() < 0.3:
        return nested.encode()
    return _dump({**doc, "meta": 0}).replace(b'"meta": 0', f'"meta": {nested}'.encode())


def wrong_type(rng: random.Random, doc: dict) -> bytes:
    return _dump({**doc, rng.choice((*TEXT_FIELDS, "published_at")): rng.choice(WEIRD_VALUES)})


def nulls(rng: random.Random, doc: dict) -> bytes:
    return _dump({k: (None if rng.random() < 0.5 else v) for k, v in doc.items()})


def duplicate_keys(rng: random.Random, doc: dict) -> bytes:
    raw = _dump(doc)
    return raw[:-1] + b', "id": ' + _dump(rng.choice((f"{doc.get('id')}-dup", 7, None))) + b"}"


def bom(rng: random.Random, doc: dict) -> bytes:
    return b"\xef\xbb\xbf" + _dump(doc)


def control_characters(rng: random.Random, doc: dict) -> bytes:
    name = rng.choice(("title", "id", "summary"))
    char = rng.choice(("\x00", "\x1b", "\x07", "\x7f", "\x85"))
    if rng.random() < 0.3:  # raw, unescaped: not JSON
        return _dump(doc).replace(b'"title": "', b'"title": "' + char.encode("utf-8"), 1)
    return _dump({**doc, name: f"{doc.get(name) or ''}{char}x"})


def random_lang(rng: random.Random, doc: dict) -> bytes:
    lang = rng.choice(("fr", "de-CH", "zz", "x-klingon", "english", "e" * 40, "", "pt_BR", "☃"))
    return _dump({**doc, "lang": lang})


def absurd_date(rng: random.Random, doc: dict) -> bytes:
    return _dump({**doc, "published_at": rng.choice(ABSURD_DATES)})


def not_an_object(rng: random.Random, doc: dict) -> bytes:
    return rng.choice((b"[]", b'"text"', b"42", b"null", b"", b"  ", b"{", b"\xff\xfe", b"NaN", _dump([doc])))


def invalid_utf8(rng: random.Random, doc: dict) -> bytes:
    return _dump(doc).replace(b'"title": "', b'"title": "' + rng.choice((b"\xc3\x28", b"\xed\xa0\x80", b"\xff")), 1)


def redelivery(rng: random.Random, doc: dict) -> bytes:
    """The record exactly as before: an identical duplicate when its original was tagged."""
    return _dump(doc)


def edit(rng: random.Random, doc: dict) -> bytes:
    return _dump({**doc, "title": f"{doc.get('title') or ''} (updated {rng.randrange(1000)})"})


MUTATIONS: dict[str, Mutation] = {
    f.__name__: f
    for f in (
        byte_flips,
        truncation,
        lone_surrogate,
        giant_number,
        giant_string,
        deep_nesting,
        wrong_type,
        nulls,
        duplicate_keys,
        bom,
        control_characters,
        random_lang,
        absurd_date,
        not_an_object,
        invalid_utf8,
        redelivery,
        edit,
    )
}


def hostile(rng: random.Random, doc: dict, name: str | None = None) -> tuple[str, bytes]:
    """One mutation of `doc` (chosen at random unless named): (its name, the bytes)."""
    name = name or rng.choice(list(MUTATIONS))
    return name, MUTATIONS[name](rng, doc)
