"""The ledger as CSV, streamed row by row; shared by the reviewer UI's export and the admin's."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from models_app.models import LedgerEntry


class _Echo:
    """A write-only file for csv.writer: hands each formatted line back instead of buffering it."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    # Spreadsheets execute cells that start like a formula; comments and names are user input.
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def _cells(row: LedgerEntry) -> dict[str, object]:
    return {
        "id": row.pk,
        "created_at": row.created_at.isoformat(),
        "model": _cell(row.registered_model.name),
        "version": row.version.version if row.version_id else "",
        "kind": row.kind,
        "from_stage": row.from_stage,
        "to_stage": row.to_stage,
        "alias": _cell(row.alias),
        "actor": _cell(row.actor_username),
        "transition_request": row.transition_request_id or "",
        "comment": _cell(row.comment),
        "details": json.dumps(row.details, sort_keys=True) if row.details else "",
        "request_id": row.request_id,
        "prev_hash": row.prev_hash,
        "row_hash": row.row_hash,
    }


def ledger_csv_lines(rows: Iterable[LedgerEntry]) -> Iterator[str]:
    """The ledger as CSV lines, one row at a time, in the columns the API shows (``LedgerEntry.COLUMNS``)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(LedgerEntry.COLUMNS)
    for row in rows:
        cells = _cells(row)
        yield writer.writerow([cells[column] for column in LedgerEntry.COLUMNS])


def ledger_csv_response(rows: Iterable[LedgerEntry], *, filename: str) -> StreamingHttpResponse:
    """A streaming CSV download of ``rows`` in the order given."""
    response = StreamingHttpResponse(ledger_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
