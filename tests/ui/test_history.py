"""The point-in-time page in the reviewer UI and the admin: answers replayed from the ledger alone."""

import re

from django.utils import timezone

from models_app import services
from tests.conftest import nothing_written, promote, register


def build(registered_model, publisher, reviewer, reviewer2):
    v1 = register(registered_model, publisher)
    promote(v1, publisher, reviewer, comment="holdout AUC reproduced")
    services.alias_set(registered_model=registered_model, alias="champion", version_number=1, actor=publisher)
    moment = timezone.now()
    v2 = register(registered_model, publisher)
    promote(v2, publisher, reviewer2, comment="second look")
    return moment


def test_it_shows_what_was_in_production_and_who_approved_it(
    client, registered_model, publisher, reviewer, reviewer2
):
    moment = build(registered_model, publisher, reviewer, reviewer2)
    client.force_login(reviewer2)
    response = client.get(f"/models/{registered_model.name}/history/", {"at": moment.isoformat()})
    assert response.status_code == 200
    snapshot = response.context["snapshot"]
    assert snapshot.production_version == 1
    assert snapshot.aliases == {"champion": 1}
    body = response.content.decode()
    # Every version named is a link to its page.
    link = f'<a href="/models/{registered_model.name}/versions/1/">v1</a>'
    assert f"{link} entered Production" in body
    assert f"<code>@champion</code> → {link}" in body
    assert re.search(r"Production.*?</th><td>" + re.escape(link), body, re.S)
    assert "holdout AUC reproduced" in body
    assert reviewer.username in body
    assert "second look" not in body


def test_it_defaults_to_now(client, registered_model, publisher, reviewer, reviewer2):
    build(registered_model, publisher, reviewer, reviewer2)
    client.force_login(publisher)
    response = client.get(f"/models/{registered_model.name}/history/")
    assert response.status_code == 200
    assert response.context["snapshot"].production_version == 2
    assert response.context["snapshot"].stages["archived"] == [1]


def test_a_malformed_moment_is_a_clear_400(client, registered_model, publisher):
    client.force_login(publisher)
    response = client.get(f"/models/{registered_model.name}/history/", {"at": "yesterday-ish"})
    assert response.status_code == 400
    assert "ISO 8601" in response.content.decode()
    assert response.context["snapshot"] is None


def test_it_is_refused_without_a_role_and_redirects_anonymous(client, registered_model, norole):
    url = f"/models/{registered_model.name}/history/"
    assert client.get(url).status_code == 302
    client.force_login(norole)
    with nothing_written():
        assert client.get(url).status_code == 403


def test_the_admin_shows_the_same_answer(
    client, registered_model, publisher, reviewer, reviewer2, governance
):
    moment = build(registered_model, publisher, reviewer, reviewer2)
    client.force_login(governance)
    url = f"/admin/models_app/registeredmodel/{registered_model.pk}/history-at/"
    response = client.get(url, {"at": moment.isoformat()})
    assert response.status_code == 200
    body = response.content.decode()
    assert "v1</a> entered Production" in body
    assert "holdout AUC reproduced" in body
    changelist = client.get("/admin/models_app/registeredmodel/")
    assert url in changelist.content.decode()


def test_the_api_gives_the_request_and_policy_evidence_too(registered_model, publisher, reviewer, reviewer2):
    from rest_framework.test import APIClient

    moment = build(registered_model, publisher, reviewer, reviewer2)
    api = APIClient()
    api.force_authenticate(reviewer)
    body = api.get(f"/api/v1/models/{registered_model.name}/history/", {"at": moment.isoformat()}).json()
    assert body["stages"]["production"] == [1]
    assert body["production_request"]["kind"] == "requested"
    assert body["production_request"]["actor"] == publisher.username
    assert [row["actor"] for row in body["production_approvals"]] == [reviewer.username]
    assert body["policy"] is None
