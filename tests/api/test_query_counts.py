"""Queries per request on the hot read paths: a single version costs at most 3 (token, the caller's
groups, the version with everything it shows), 1 when the same token was seen in the last
REGISTRY_AUTH_CACHE_SECONDS, and lists cost the same for 5 rows as for 50."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from models_app import services
from tests.conftest import register

MODEL = "/api/v1/models/fraud-detector/versions/"


def _queries(client, url) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries), response.json()


@pytest.fixture
def versions(registered_model, publisher, reviewer, governance):
    """Three versions with two files each, v2 in Production with an alias, a deployment and a legal hold."""
    made = [register(registered_model, publisher, files={"a.bin": b"a", "b/c.bin": b"c"}) for _ in range(3)]
    services.version_transition(version=made[1], to="staging", actor=publisher)
    req = services.transition_request_create(version=made[1], to="production", actor=publisher)
    services.transition_request_approve(transition_request=req, actor=reviewer)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=2, actor=publisher)
    services.deployment_report(version=made[1], actor=publisher, environment="prod", status="succeeded")
    services.version_hold(version=made[0], actor=governance, reason="Litigation 42.")
    return made


@pytest.mark.parametrize(
    ("ref", "number"), [("2", 2), ("@champion", 2), ("production", 2), ("latest", 3), ("1", 1)]
)
def test_a_single_version_read_runs_at_most_three_queries(api, publisher, versions, ref, number, settings):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 0
    client = api(publisher)
    client.get(MODEL + "1/")  # the token's last-used write happens once a minute; keep it out of the count
    count, body = _queries(client, MODEL + ref + "/")
    assert count <= 3, count
    assert body["version"] == number
    # Everything the representation shows is still there, read in that one query.
    assert [f["path"] for f in body["files"]] == ["a.bin", "b/c.bin"]
    assert body["files"][1]["url"].endswith(f"/versions/{number}/files/b/c.bin")
    if number == 2:
        assert body["aliases"] == ["champion"]
        assert [(d["environment"], d["version"], d["status"]) for d in body["deployments"]] == [
            ("prod", 2, "succeeded")
        ]
        assert body["stage"] == "production" and body["held"] is False and body["hold"] is None
    if number == 1:
        assert body["held"] is True
        assert body["hold"]["scope"] == "version" and body["hold"]["placed_by"] == "gil-governance"


@pytest.mark.parametrize("ref", ["2", "@champion", "production", "latest"])
def test_a_repeated_read_by_the_same_token_runs_one_query(api, publisher, versions, ref, settings):
    settings.REGISTRY_AUTH_CACHE_SECONDS = 60
    client = api(publisher)
    first, _ = _queries(client, MODEL + ref + "/")
    assert first <= 4, first  # token, groups, the version; the token's last-used write on first use
    again, body = _queries(client, MODEL + ref + "/")
    assert again == 1, again
    assert body["version"] in (2, 3) and [f["path"] for f in body["files"]] == ["a.bin", "b/c.bin"]


def test_the_single_version_read_answers_like_the_list(api, publisher, versions):
    client = api(publisher)
    listed = {v["version"]: v for v in client.get(MODEL).json()["results"]}
    for number in (1, 2, 3):
        assert client.get(f"{MODEL}{number}/").json() == listed[number]


@pytest.mark.parametrize("url", [MODEL + "?page_size={n}", "/api/v1/models/?page_size={n}"])
def test_list_queries_are_the_same_for_5_and_50_rows(api, publisher, team, registered_model, url):
    for i in range(50):
        register(registered_model, publisher, files={"a.bin": b"a", "b/c.bin": str(i).encode()})
        services.registered_model_create(name=f"extra-{i:02}", team=team, actor=publisher)
    services.alias_set(registered_model=registered_model, alias="champion", version_number=7, actor=publisher)
    client = api(publisher)
    client.get(url.format(n=1))
    small, small_body = _queries(client, url.format(n=5))
    large, large_body = _queries(client, url.format(n=50))
    assert (len(small_body["results"]), len(large_body["results"])) == (5, 50)
    assert small == large, (small, large)


def test_the_one_query_representation_equals_the_prefetched_one(api, publisher, registered_model, versions):
    """``selectors.version_rows`` (JSON columns) and ``selectors.version_get`` (prefetches) give the same body."""
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from models_app import selectors
    from models_app.api.serializers import ModelVersionSerializer

    request = Request(APIRequestFactory().get("/"))
    for number in (1, 2, 3):
        prefetched = selectors.version_get(registered_model=registered_model, ref=number)
        one_query = selectors.version_read(name=registered_model.name, ref=number)
        context = {"request": request}
        assert (
            ModelVersionSerializer(one_query, context=context).data
            == ModelVersionSerializer(prefetched, context=context).data
        )


def test_the_version_list_pages_the_same_with_and_without_filters(api, versions, publisher):
    client = api(publisher)
    url = MODEL
    unfiltered = client.get(url, {"page_size": 2, "page": 2}).json()
    filtered = client.get(url, {"page_size": 2, "page": 2, "status": "ready"}).json()
    assert unfiltered["results"] == filtered["results"]
    assert unfiltered["count"] == 3 and [v["version"] for v in unfiltered["results"]] == [1]
