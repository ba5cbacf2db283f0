"""selectors.registered_model_history_at on a short story, and selectors.registered_model_history_at_text (the moment as text)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from models_app import selectors, services
from models_app.selectors.ledger import _parse_moment as parse_moment
from tests.conftest import promote, register


def test_history_replays_stages_aliases_and_approvals(registered_model, publisher, reviewer, reviewer2):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer, comment="offline eval ok")
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    moment = timezone.now()
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer2)

    then = selectors.registered_model_history_at(registered_model=registered_model, at=moment)
    assert then.stages["production"] == [1]
    assert then.stages["none"] == []
    assert then.aliases == {"champion": 1}
    assert then.production_entry.kind == "approved"
    assert [a.actor_username for a in then.production_approvals] == [reviewer.username]
    assert then.production_approvals[0].comment == "offline eval ok"

    now = selectors.registered_model_history_at(registered_model=registered_model, at=timezone.now())
    assert now.stages["production"] == [2]
    assert now.stages["archived"] == [1]

    before = selectors.registered_model_history_at(
        registered_model=registered_model, at=moment - timedelta(days=1)
    )
    assert before.stages["production"] == []
    assert before.production_entry is None


# -- registered_model_history_at_text: the moment as a page gives it ------------------------------------------------------

ISO_HINT = "Give the moment as an ISO 8601 time, e.g. 2026-06-01T12:00:00Z."


@pytest.mark.parametrize("text", ["yesterday", "2026-13-45T00:00:00Z", "12:00", "2026-06-01T12:00:00+99:00"])
def test_a_bad_moment_is_an_error_and_no_snapshot(registered_model, text):
    query = selectors.registered_model_history_at_text(registered_model=registered_model, at_text=text)
    assert query.at_text == text
    assert query.error == ISO_HINT
    assert query.snapshot is None


@pytest.mark.parametrize("text", ["", None])
def test_an_empty_moment_means_now(registered_model, publisher, reviewer, text):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer)
    before = timezone.now()
    query = selectors.registered_model_history_at_text(registered_model=registered_model, at_text=text)
    assert query.error == ""
    assert query.at_text.endswith("Z")
    assert query.snapshot.at >= before
    assert query.snapshot.at == parse_moment(query.at_text)
    assert query.snapshot.production_version == 1


def test_a_moment_without_an_offset_is_utc_and_an_offset_is_honoured(registered_model, publisher):
    register(registered_model, publisher)
    plain = selectors.registered_model_history_at_text(
        registered_model=registered_model, at_text="2020-01-01T00:00:00"
    )
    assert plain.snapshot.at == datetime(2020, 1, 1, tzinfo=UTC)
    assert plain.snapshot.stages["none"] == []  # long before the model existed
    shifted = selectors.registered_model_history_at_text(
        registered_model=registered_model, at_text="2020-01-01T05:30:00+05:30"
    )
    assert shifted.snapshot.at == datetime(2020, 1, 1, tzinfo=UTC)
    assert shifted.at_text == "2020-01-01T05:30:00+05:30"


def test_parse_moment_answers_none_for_anything_but_an_iso_time():
    assert parse_moment(" 2026-06-01T12:00:00Z ") == datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert parse_moment("2026-06-01") == datetime(2026, 6, 1, tzinfo=UTC)  # a date is its midnight
    assert parse_moment("not a time") is None
