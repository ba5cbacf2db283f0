"""Database functions the selectors and the write path share."""

from __future__ import annotations

from django.db.models import Aggregate, JSONField, QuerySet, Subquery


class JSONArrayAgg(Aggregate):
    """The values of a group as one JSON array: ``JSONB_AGG`` on PostgreSQL, ``JSON_GROUP_ARRAY`` on SQLite."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="JSONB_AGG", **extra_context)


def json_rows_of(queryset: QuerySet, value) -> Subquery:
    """``value`` of every row of ``queryset`` (filtered on an outer version) as one JSON array, or null."""
    grouped = queryset.order_by().values("version_id").annotate(rows=JSONArrayAgg(value)).values("rows")
    return Subquery(grouped, output_field=JSONField())
