"""What the dashboard, model list, model page and version page show, per role."""

import re

import pytest
from django.urls import reverse

from models_app import services
from tests.conftest import register

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# -- dashboard ---------------------------------------------------------------------------------------------


def test_the_reviewers_inbox_holds_the_pending_request_with_decision_buttons(login, scenario, reviewer):
    html = _html(login(reviewer).get("/"))
    inbox = html.split('id="awaiting-title"')[1].split('id="mine-title"')[0]
    assert f'id="request-{scenario.request.pk}"' in inbox
    assert "Better AUC on the March data." in inbox
    assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) in inbox
    assert "Compare with Production v2" in inbox
    assert "/models/fraud-detector/compare/?versions=2,3" in inbox


def test_the_publishers_inbox_lists_their_requests_without_decision_buttons(login, scenario, publisher):
    html = _html(login(publisher).get("/"))
    mine = html.split('id="mine-title"')[1].split('id="prod-title"')[0]
    assert "fraud-detector v3" in mine
    assert "Deciding requests is for Reviewers" in html
    assert "transitionrequest-approve" not in html
    assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) not in html


def test_the_dashboard_lists_production_changes_and_recent_ledger(login, scenario, governance):
    html = _html(login(governance).get("/"))
    production = html.split('id="prod-title"')[1].split('id="ledger-title"')[0]
    assert re.search(r"fraud-detector</a>\s*→\s*<a[^>]*>v2</a>", production)
    ledger = html.split('id="ledger-title"')[1]
    assert "Transition requested" in ledger


def test_a_reviewer_who_already_approved_no_longer_sees_the_request_as_waiting(
    login, scenario, reviewer, reviewer2, governance
):
    services.registered_model_update(registered_model=scenario.model, actor=governance, required_approvals=2)
    services.transition_request_approve(transition_request=scenario.request, actor=reviewer, comment="ok")
    mine = _html(login(reviewer).get("/")).split('id="awaiting-title"')[1].split('id="mine-title"')[0]
    assert "Nothing is waiting for you." in mine
    theirs = _html(login(reviewer2).get("/")).split('id="awaiting-title"')[1].split('id="mine-title"')[0]
    assert f'id="request-{scenario.request.pk}"' in theirs
    assert "1 of 2 approvals" in theirs


# -- models list -------------------------------------------------------------------------------------------


def test_the_models_list_shows_team_production_and_staging(login, scenario, reviewer):
    html = _html(login(reviewer).get(reverse("models_app:registeredmodel-list")))
    row = html.split("<tbody>")[1].split("</tbody>")[0]
    assert ">fraud-detector</a>" in row
    assert ">fraud-team</td>" in row
    assert re.search(r"/versions/2/\">.*?v2</a>", row)
    assert re.search(r"/versions/3/\">.*?v3</a>", row)


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("name=fraud", True),
        ("name=churn", False),
        ("stage=production", True),
        ("team=fraud-team", True),
        ("team=search-team", False),
        ("tag=domain", False),
    ],
)
def test_the_models_list_filters_with_the_api_filterset(login, scenario, reviewer, other_team, query, shown):
    html = _html(login(reviewer).get(reverse("models_app:registeredmodel-list") + "?" + query))
    assert (">fraud-detector</a>" in html) is shown
    if not shown:
        assert "No models match these filters." in html


# -- model page --------------------------------------------------------------------------------------------


def test_the_model_page_renders_the_card_facts_versions_and_charts(login, scenario, reviewer, publisher):
    services.alias_set(registered_model=scenario.model, alias="champion", version_number=2, actor=publisher)
    html = _html(login(reviewer).get(reverse("models_app:registeredmodel-detail", args=["fraud-detector"])))
    assert "<h3" in html and "Fraud detector</h3>" in html  # markdown heading shifted under the page's h2
    assert "<strong>card transactions</strong>" in html
    assert "<table>" in html  # markdown table
    assert "<dt>Team</dt><dd>fraud-team</dd>" in html
    assert "<dt>Required approvals</dt><dd>1</dd>" in html
    assert "@champion → v2" in html
    versions = html.split('id="versions-title"')[1].split("</table>")[0]
    for number in (1, 2, 3):
        assert f">v{number}</a></th>" in versions
    assert "badge--production" in versions and "badge--staging" in versions and "badge--archived" in versions
    assert "https://github.com/acme/fraud-models/commit/" in versions
    charts = html.split('id="charts-title"')[1]
    assert charts.count('<figure class="chart"') == 3  # auc, p95_latency_ms, val_loss
    assert "chart__point--production" in charts and "chart__point--staging" in charts
    assert "chart__point--archived" in charts
    assert "v2 · Production · auc = 0.9" in charts
    assert "lower is better" in charts


def test_the_model_page_redirects_to_the_canonical_name(login, scenario, reviewer):
    response = login(reviewer).get("/models/Fraud-Detector/")
    assert response.status_code == 301
    assert response["Location"] == "/models/fraud-detector/"


# -- version page ------------------------------------------------------------------------------------------


def test_the_version_page_shows_every_metadata_field(login, scenario, reviewer):
    v3 = scenario.candidate
    html = _html(login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
    assert f'href="https://github.com/acme/fraud-models/commit/{v3.source_commit}"' in html
    assert "<dt>Branch</dt><dd>main</dd>" in html
    assert "s3://acme-data/transactions" in html and "2024-03" in html
    assert '<th scope="row">learning_rate</th><td><code>0.05</code></td>' in html
    assert "[&quot;amount&quot;, &quot;merchant&quot;]" in html
    assert '<th scope="row">auc</th><td class="num" title="0.93">0.93</td><td class="num">0.9</td>' in html
    assert (
        "3.11.9" in html and "xgboost 2.1.0" in html and "<td>pandas</td><td><code>2.3.0</code></td>" in html
    )
    assert "&quot;inputs&quot;" in html  # signature as JSON
    assert "Retrained with window 3." in html
    # Lineage: parent v2 here, and v2's page lists v3 as a child.
    assert re.search(r"<dt>Parent</dt><dd><a href=\"/models/fraud-detector/versions/2/\">v2</a>", html)
    v2_html = _html(
        login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 2]))
    )
    assert re.search(r"<dt>Children</dt><dd><a href=\"/models/fraud-detector/versions/3/\">v3</a>", v2_html)


def test_the_version_page_lists_files_with_size_checksum_and_api_download_link(login, scenario, reviewer):
    html = _html(login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
    files = html.split('id="files-title"')[1].split("</table>")[0]
    for f in scenario.candidate.files.all():
        assert f'href="/api/v1/models/fraud-detector/versions/3/files/{f.path}"' in files
        assert f.sha256 in files
        assert f'title="{f.size} bytes"' in files
    assert "/files/conf/settings.json" in files


def test_the_version_page_shows_its_ledger_and_pending_request(login, scenario, reviewer):
    html = _html(login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
    ledger = html.split('id="ledger-title"')[1].split("</table>")[0]
    assert (
        "Version registered" in ledger
        and "Transition requested" in ledger
        and "Direct stage change" in ledger
    )
    pending = html.split('id="pending-title"')[1].split('id="actions-title"')[0]
    assert f'id="request-{scenario.request.pk}"' in pending


def _actions(html: str) -> str:
    return (
        html.split('id="actions-title"')[1].split('id="overview-title"')[0]
        if 'id="actions-title"' in html
        else ""
    )


def test_a_reviewer_may_decide_and_archive_but_not_request(login, scenario, reviewer):
    html = _html(login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
    assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) in html
    actions = _actions(html)
    assert '<option value="archived">Archived</option>' in actions
    assert '<option value="none">' not in actions
    assert "Request promotion" not in actions
    assert "Roll back" not in actions


def test_a_publisher_sees_publisher_moves_and_no_decision_buttons(login, scenario, publisher):
    html = _html(login(publisher).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
    assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) not in html
    assert "You requested this promotion, so another reviewer must decide." in html
    assert reverse("models_app:transitionrequest-cancel", args=[scenario.request.pk]) in html
    actions = _actions(html)
    assert '<option value="none">' in actions
    assert '<option value="archived">' not in actions
    assert "Request promotion" not in actions  # a request is already pending


def test_a_publisher_may_request_promotion_of_a_staging_version(login, scenario, publisher):
    v4 = register(scenario.model, publisher)
    services.version_transition(version=v4, to="staging", actor=publisher)
    html = _html(login(publisher).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 4])))
    assert reverse("models_app:modelversion-request", args=["fraud-detector", 4]) in _actions(html)


def test_publishers_of_other_teams_and_governance_see_no_actions(login, scenario, outsider, governance):
    for user in (outsider, governance):
        html = _html(login(user).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 3])))
        assert 'id="actions-title"' not in html
        assert reverse("models_app:transitionrequest-approve", args=[scenario.request.pk]) not in html


def test_rollback_is_offered_to_reviewers_only_on_formerly_production_versions(
    login, scenario, reviewer, publisher
):
    url = reverse("models_app:modelversion-detail", args=["fraud-detector", 1])
    assert "Roll back to v1" in _actions(_html(login(reviewer).get(url)))
    assert "Roll back" not in _html(login(publisher).get(url))
    v4 = register(scenario.model, publisher)
    services.version_transition(version=v4, to="archived", actor=reviewer)
    html = _html(login(reviewer).get(reverse("models_app:modelversion-detail", args=["fraud-detector", 4])))
    assert "Roll back" not in html
