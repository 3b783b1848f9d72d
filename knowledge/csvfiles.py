"""CSV in and out of the curated knowledge: one reader for every import path, one export helper."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would read as a formula gets a leading quote; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[object]], *, neutralise: bool = False
) -> HttpResponse:
    """A CSV download; with `neutralise`, every text cell made safe against formula injection (`safe_cell`).

    (Off for the knowledge exports, which are read back by the importers verbatim.)
    """
    cell = safe_cell if neutralise else (lambda value: value)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow([cell(value) for value in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return response
