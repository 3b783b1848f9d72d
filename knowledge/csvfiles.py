"""CSV in and out of the curated knowledge: one reader for every import path, one export helper."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable[object]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response
