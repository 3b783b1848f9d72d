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


def read_rows(source: Path | IO[bytes] | IO[str], required: Sequence[str | tuple[str, ...]]) -> list[dict[str, str]]:
    """Every row of a UTF-8 CSV (a BOM is fine) as a dict of stripped strings.

    `source` is a path or an open file (an upload); a missing `required` column is a CsvError
    naming it and the columns that are there. A tuple in `required` is a column known by several
    names: the first of them in the header (in any case) is read, under the tuple's first name.
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


def _rows(handle: IO[str], required: Sequence[str | tuple[str, ...]], name: str) -> list[dict[str, str]]:
    reader = csv.DictReader(handle)
    header = list(reader.fieldnames or [])
    by_lower = {column.strip().lower(): column for column in reversed(header)}
    renamed: dict[str, str] = {}  # a header's spelling -> the name callers read it by
    missing = []
    for column in required:
        if isinstance(column, str):
            if column not in header:
                missing.append(column)
            continue
        found = next((by_lower[known] for known in column if known in by_lower), None)
        if found is None:
            missing.append(column[0] if len(column) == 1 else " or ".join(column))
        elif found != column[0]:
            renamed[found] = column[0]
    if missing:
        raise CsvError(f"{name}: no column(s) {missing}; columns are {reader.fieldnames}")
    return [
        {renamed.get(k, k): _unquoted((v or "").strip()) for k, v in row.items() if k is not None} for row in reader
    ]


def _unquoted(cell: str) -> str:
    """A cell `safe_cell` quoted, as it was: our own exports import back verbatim."""
    return cell[1:] if cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_START else cell


# Column names that labelled-utterance files commonly use, tried in order when none is named.
TEXT_COLUMNS = ("text", "sentence", "utterance", "query", "message", "question")
INTENT_COLUMNS = ("intent", "label", "category", "class")


def read_labelled_csv(
    source: Path | IO[bytes] | IO[str], *, text_column: str | None = None, intent_column: str | None = None,
    oos_label: str | None = "oos",
) -> tuple[list[str], list[str | None]]:
    """Texts and intents; rows labelled `oos_label` become None (out-of-scope), rows missing either are skipped.

    A column not named is the first of the common names present (`TEXT_COLUMNS`, `INTENT_COLUMNS`).
    """
    texts: list[str] = []
    intents: list[str | None] = []
    for row in read_rows(source, [text_column or TEXT_COLUMNS, intent_column or INTENT_COLUMNS]):
        text, intent = row[text_column or TEXT_COLUMNS[0]], row[intent_column or INTENT_COLUMNS[0]]
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
