"""The models list: filter and sort by a Production metric (the API's filter, shared), and the models
whose deployments report another version than Production."""

import re

import pytest
from django.urls import reverse

from models_app import services
from tests.conftest import promote, register

pytestmark = pytest.mark.django_db

URL = reverse("models_app:registeredmodel-list")


@pytest.fixture
def models(scenario, publisher, reviewer, team):
    """fraud-detector (Production v2, auc 0.90), churn (Production v1, auc 0.95), draft (no Production)."""
    churn = services.registered_model_create(name="churn", team=team, actor=publisher)
    v1 = register(churn, publisher, metadata={"metrics": {"auc": 0.95, "val_loss": 0.2}})
    promote(v1, publisher, reviewer)
    draft = services.registered_model_create(name="draft", team=team, actor=publisher)
    register(draft, publisher, metadata={"metrics": {"auc": 0.99}})
    return {"fraud": scenario.model, "churn": churn, "draft": draft}


def _names(html: str) -> list[str]:
    tbody = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<th scope="row"><a href="/models/([^/]+)/">', tbody)


def test_models_filter_by_a_production_metric_threshold(login, models, reviewer):
    client = login(reviewer)
    assert _names(client.get(URL, {"metric": "auc>=0.92"}).content.decode()) == ["churn"]
    assert _names(client.get(URL, {"metric": "auc<0.92"}).content.decode()) == ["fraud-detector"]
    # The draft model's 0.99 is not in Production, so it never matches.
    assert "draft" not in _names(client.get(URL, {"metric": "auc>0.5"}).content.decode())


def test_models_sort_by_a_production_metric_and_show_its_value(login, models, reviewer):
    client = login(reviewer)
    html = client.get(URL, {"ordering": "-metric:auc"}).content.decode()
    assert _names(html) == ["churn", "fraud-detector", "draft"]  # no Production value: last
    assert 'auc <span class="muted small">(Production)</span>' in html
    assert ">0.95</td>" in html and ">0.9</td>" in html
    assert _names(client.get(URL, {"ordering": "metric:auc"}).content.decode()) == [
        "fraud-detector",
        "churn",
        "draft",
    ]


def test_a_bad_metric_expression_is_an_error_naming_the_field(login, models, reviewer):
    response = login(reviewer).get(URL, {"metric": "auc>>1", "ordering": "size"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "&#x27;auc&gt;&gt;1&#x27; is not &#x27;name&lt;op&gt;number&#x27;" in html
    assert "Use name, updated_at or metric:&lt;name&gt;" in html


def test_the_api_filters_and_orders_models_the_same_way(login, models, reviewer):
    client = login(reviewer)
    body = client.get("/api/v1/models/", {"metric": "auc>=0.92"}).json()
    assert [m["name"] for m in body["results"]] == ["churn"]
    body = client.get("/api/v1/models/", {"ordering": "-metric:auc"}).json()
    assert [m["name"] for m in body["results"]] == ["churn", "fraud-detector", "draft"]
    response = client.get("/api/v1/models/", {"metric": "auc>>1"})
    assert response.status_code == 400 and "metric" in response.content.decode()


def test_models_whose_deployments_differ_from_production_are_marked_and_filtered(
    login, models, reviewer, scenario
):
    # fraud-detector: prod runs v1 (archived) while Production is v2; staging runs v3. churn runs its Production.
    services.deployment_report(
        version=scenario.archived, environment="prod", status="succeeded", actor=reviewer
    )
    services.deployment_report(
        version=scenario.candidate, environment="staging", status="started", actor=reviewer
    )
    churn_v1 = models["churn"].versions.get(version=1)
    services.deployment_report(version=churn_v1, environment="prod", status="succeeded", actor=reviewer)

    client = login(reviewer)
    html = client.get(URL).content.decode()
    fraud_row = re.search(r'<a href="/models/fraud-detector/">.*?</tr>', html, re.S).group(0)
    assert "Differs from Production" in fraud_row
    assert "prod: v1 (succeeded)" in fraud_row and "staging: v3 (started)" in fraud_row
    churn_row = re.search(r'<a href="/models/churn/">.*?</tr>', html, re.S).group(0)
    assert "Differs from Production" not in churn_row and "match Production" in churn_row

    assert _names(client.get(URL, {"deployments": "mismatch"}).content.decode()) == ["fraud-detector"]
    # Once prod reports the Production version and staging is gone from the report, it matches.
    services.deployment_report(
        version=scenario.production, environment="prod", status="succeeded", actor=reviewer
    )
    services.deployment_report(
        version=scenario.production, environment="staging", status="succeeded", actor=reviewer
    )
    assert _names(client.get(URL, {"deployments": "mismatch"}).content.decode()) == []


def test_the_apis_filter_errors_carry_a_code_like_every_validation_error(login, models, reviewer):
    body = login(reviewer).get("/api/v1/models/", {"ordering": "size"}).json()
    assert body["type"] == "validation_error"
    assert body["errors"] == [
        {
            "code": "invalid",
            "detail": "Use name, updated_at or metric:<name>, optionally prefixed with '-'.",
            "attr": "ordering",
        }
    ]
