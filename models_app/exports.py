"""The ledger as CSV, streamed row by row; shared by the reviewer UI's export and the admin's."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from models_app.models import LedgerEntry

LEDGER_CSV_HEADER = (
    "id",
    "created_at",
    "model",
    "version",
    "kind",
    "from_stage",
    "to_stage",
    "alias",
    "actor",
    "transition_request",
    "comment",
    "details",
    "request_id",
    "prev_hash",
    "row_hash",
)


class _Echo:
    """A write-only file for csv.writer: hands each formatted line back instead of buffering it."""

    def write(self, value: str) -> str:
        return value


def _cell(text: str) -> str:
    # Spreadsheets execute cells that start like a formula; comments and names are user input.
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def ledger_csv_lines(rows: Iterable[LedgerEntry]) -> Iterator[str]:
    """The ledger as CSV lines, one row at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(LEDGER_CSV_HEADER)
    for row in rows:
        yield writer.writerow(
            [
                row.pk,
                row.created_at.isoformat(),
                _cell(row.registered_model.name),
                row.version.version if row.version_id else "",
                row.kind,
                row.from_stage,
                row.to_stage,
                _cell(row.alias),
                _cell(row.actor_username),
                row.transition_request_id or "",
                _cell(row.comment),
                json.dumps(row.details, sort_keys=True) if row.details else "",
                row.request_id,
                row.prev_hash,
                row.row_hash,
            ]
        )


def ledger_csv_response(rows: Iterable[LedgerEntry], *, filename: str) -> StreamingHttpResponse:
    """A streaming CSV download of ``rows`` in the order given."""
    response = StreamingHttpResponse(ledger_csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
