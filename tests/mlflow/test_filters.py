"""The filter grammar of the MLflow layer: what the client sends is understood, anything else refused
naming the filter (no database needed: these test the parser)."""

from __future__ import annotations

import pytest

from models_app.exceptions import InvalidInput
from models_app.mlflow.filters import Clause, like_regex, ordering, parse


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("name='churn'", [Clause("name", "=", "churn")]),
        ("name LIKE 'lab-reg%'", [Clause("name", "LIKE", "lab-reg%")]),
        ('name ilike "Lab%"', [Clause("name", "ILIKE", "Lab%")]),
        (
            "tags.team = 'ml' AND name = 'x' AND tag.`mlflow.prompt.is_prompt` != 'true'",
            [
                Clause("tag", "=", "ml", "team"),
                Clause("name", "=", "x"),
                Clause("tag", "!=", "true", "mlflow.prompt.is_prompt"),
            ],
        ),
        ("tags.\"use-case\" = 'it''s'", [Clause("tag", "=", "it's", "use-case")]),
        ("run_id IN ('a', 'b')", [Clause("run_id", "IN", ["a", "b"])]),
        ("version_number >= 2", [Clause("version_number", ">=", "2")]),
        ("", []),
    ],
)
def test_the_filters_the_client_sends_are_understood(text, clauses):
    assert parse(text) == clauses


@pytest.mark.parametrize(
    "text",
    [
        "name = 'a' OR name = 'b'",
        "name =",
        "name 'x'",
        "(name = 'x')",
        "name = 'x' AND",
        "name = x",
        "name ~ 'x'",
    ],
)
def test_anything_else_is_refused_naming_the_filter(text):
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert refused.value.field == "filter" and repr(text) in refused.value.message


def test_like_patterns_match_literally_apart_from_the_wildcards():
    assert like_regex("a.b%") == r"^a\.b.*$"
    assert like_regex("x_y") == "^x.y$"


def test_orderings_name_known_fields_only():
    columns = {"name": "name", "version_number": "version"}
    assert ordering(["name ASC", "version_number DESC"], columns=columns, default=["x"]) == [
        "name",
        "-version",
        "pk",
    ]
    assert ordering([], columns=columns, default=["-x"]) == ["-x", "pk"]
    with pytest.raises(InvalidInput) as refused:
        ordering(["size DESC"], columns=columns, default=[])
    assert refused.value.field == "order_by"
