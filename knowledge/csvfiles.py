"""CSV in and out of the curated knowledge: one reader for every import path, one export helper."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, cast

from django.http import HttpResponse


class CsvError(ValueError):
    """A CSV cannot be read, lacks a column, or holds no usable rows; the message says which."""


def read_rows(source: Path | IO[bytes] | IO[str], required: Sequence[str]) -> list[dict[str, str]]:
    """Every row of a UTF-8 CSV (a BOM is fine) as a dict of stripped strings.

    `source` is a path or an open file (an upload); a missing `required` column is a CsvError
    naming it and the columns that are there.
    """
    try:
        if isinstance(source, Path):
            with open(source, newline="", encoding="utf-8-sig") as handle:
                return _rows(handle, required, str(source))
        if isinstance(source.read(0), bytes):  # an upload: Django hands over binary files
            binary = cast(IO[bytes], source)
            return _rows(io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""), required, "upload")
        return _rows(cast(IO[str], source), required, "upload")
    except (OSError, UnicodeDecodeError) as exc:
        raise CsvError(f"{source}: {exc}") from exc


def _rows(handle: IO[str], required: Sequence[str], name: str) -> list[dict[str, str]]:
    reader = csv.DictReader(handle)
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise CsvError(f"{name}: no column(s) {missing}; columns are {reader.fieldnames}")
    return [{k: _unquoted((v or "").strip()) for k, v in row.items() if k is not None} for row in reader]


def _unquoted(cell: str) -> str:
    """A cell `safe_cell` quoted, as it was: our own exports import back verbatim."""
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_START else cell


def read_labelled_csv(
    source: Path | IO[bytes] | IO[str], *, text_column: str = "text", intent_column: str = "intent",
    oos_label: str | None = "oos",
) -> tuple[list[str], list[str | None]]:
    """Texts and intents; rows labelled `oos_label` become None (out-of-scope), rows missing either are skipped."""
    texts: list[str] = []
    intents: list[str | None] = []
    for row in read_rows(source, [text_column, intent_column]):
        text, intent = row[text_column], row[intent_column]
        if text and intent:
            texts.append(text)
            intents.append(None if intent == oos_label else intent)
    if not texts:
        raise CsvError(f"{source}: no labelled rows")
    return texts, intents


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would read as a formula gets a leading quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[object]]) -> HttpResponse:
    """A CSV download with every text cell made safe against formula injection (`safe_cell`).

    Exported training examples and tickets hold customers' words, so the knowledge exports are
    neutralised too; `read_rows` takes the quote off again, so they import back verbatim.
    """
    cell = safe_cell
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([cell(value) for value in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return response
