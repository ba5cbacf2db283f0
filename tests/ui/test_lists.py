"""Approvals and audit lists: filters, inline htmx forms, CSV export."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from models_app import services
from tests.conftest import register

pytestmark = pytest.mark.django_db

APPROVALS = reverse("models_app:transitionrequest-list")
AUDIT = reverse("models_app:ledgerentry-list")
EXPORT = reverse("models_app:ledgerentry-export")


def test_approvals_show_pending_requests_by_default_with_inline_htmx_forms(login, scenario, reviewer):
    html = login(reviewer).get(APPROVALS).content.decode()
    assert "1 request" in html
    card = html.split(f'id="request-{scenario.request.pk}"')[1].split("</article>")[0]
    approve = reverse("models_app:transitionrequest-approve", args=[scenario.request.pk])
    reject = reverse("models_app:transitionrequest-reject", args=[scenario.request.pk])
    # Works without JavaScript (form action / formaction) and with htmx (hx-post into the card).
    assert f'action="{approve}"' in card and f'formaction="{reject}"' in card
    assert f'hx-post="{approve}"' in card and f'hx-target="#request-{scenario.request.pk}"' in card
    assert '<label for="comment-' in card
    assert '<script src="/static/django_htmx/htmx' in html  # shipped by django-htmx, served locally


def test_approvals_filter_by_status_model_and_requester(login, scenario, reviewer, publisher):
    client = login(reviewer)
    html = client.get(APPROVALS + "?status=approved").content.decode()
    assert "2 requests" in html and f'id="request-{scenario.request.pk}"' not in html
    assert "fraud-detector" in client.get(APPROVALS + "?model=fraud-detector").content.decode()
    assert "0 requests" in client.get(APPROVALS + "?model=other").content.decode()
    assert "1 request" in client.get(APPROVALS + f"?requested_by={publisher.username}").content.decode()


def test_governance_sees_the_approvals_without_decision_forms(login, scenario, governance):
    html = login(governance).get(APPROVALS).content.decode()
    assert f'id="request-{scenario.request.pk}"' in html
    assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) not in html


def test_the_audit_page_filters_the_ledger(login, scenario, reviewer):
    client = login(reviewer)
    html = client.get(AUDIT + "?kind=approved").content.decode()
    table = html.split("<tbody>")[1]
    assert "2 entries" in html and "Approved stage change" in table and "Version registered" not in table
    html = client.get(AUDIT + f"?actor={reviewer.username}&kind=automatic").content.decode()
    assert "1 entry" in html and "Superseded by v2." in html
    html = client.get(AUDIT + "?version=3&model=fraud-detector").content.decode()
    assert "3 entries" in html


def test_the_audit_date_range_accepts_the_browsers_datetime_local_format(login, scenario, reviewer):
    client = login(reviewer)
    future = (timezone.now() + timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    past = (timezone.now() - timezone.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert "0 entries" in client.get(AUDIT + f"?since={future}").content.decode()
    assert "0 entries" not in client.get(AUDIT + f"?since={past}&until={future}").content.decode()
    assert 'type="datetime-local"' in client.get(AUDIT).content.decode()


def test_the_csv_export_streams_the_filtered_ledger(login, scenario, reviewer):
    response = login(reviewer).get(EXPORT + "?kind=approved")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ledger.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["id", "created_at", "model", "version", "kind"]
    assert [(r[2], r[3], r[4], r[5], r[6], r[8]) for r in rows[1:]] == [
        ("fraud-detector", "2", "approved", "staging", "production", reviewer.username),
        ("fraud-detector", "1", "approved", "staging", "production", reviewer.username),
    ]
    assert all(len(r[-1]) == 64 for r in rows[1:])  # row hashes


def test_the_csv_export_neutralizes_spreadsheet_formulas(login, scenario, publisher):
    v4 = register(scenario.model, publisher)
    services.version_transition(version=v4, to="staging", actor=publisher, comment='=HYPERLINK("http://x")')
    response = login(publisher).get(EXPORT + "?version=4&kind=direct")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][10] == '\'=HYPERLINK("http://x")'


def test_the_csv_export_refuses_bad_filters_with_the_field_named(login, scenario, reviewer):
    response = login(reviewer).get(EXPORT + "?kind=bogus")
    assert response.status_code == 400
    assert b"kind:" in response.content


def test_the_audit_page_links_the_export_with_the_same_filters(login, scenario, reviewer):
    html = login(reviewer).get(AUDIT + "?kind=approved&page=1").content.decode()
    assert f'href="{EXPORT}?kind=approved"' in html


def _count_queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_run_a_fixed_number_of_queries(login, scenario, publisher, reviewer):
    client = login(reviewer)
    urls = ["/", APPROVALS, AUDIT, reverse("models_app:registeredmodel-list"), "/models/fraud-detector/"]
    before = [_count_queries(client, url) for url in urls]
    for _ in range(3):  # more versions, requests and ledger rows
        version = register(scenario.model, publisher)
        services.version_transition(version=version, to="staging", actor=publisher)
        services.transition_request_create(version=version, to="production", actor=publisher)
    after = [_count_queries(client, url) for url in urls]
    assert after == before
