"""The whole pipeline story, through HTTP only."""

from __future__ import annotations

import hashlib
import io

from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api.conftest import post_version
from tests.conftest import make_user, nothing_written

METADATA = {
    "source": {
        "repository": "https://git.example.com/fraud",
        "commit": "c0ffee" * 6 + "abcd",
        "branch": "main",
    },
    "datasets": [{"uri": "s3://data/tx", "version": "2024-06"}],
    "parameters": {"lr": 0.01},
    "metrics": {"accuracy": 0.91},
    "environment": {"python_version": "3.11.9", "framework": "sklearn"},
}


def cli_token(user: User) -> APIClient:
    """A client with a token issued the way operators issue them: the management command."""
    out = io.StringIO()
    call_command("create_api_token", user.username, "--name", "story", stdout=out, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    return client


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json() if response.get("Content-Type") == "application/json" else response


def test_the_pipeline_story(role_groups, team, publisher, reviewer):
    ci = cli_token(publisher)
    cd_account = make_user("cd-bot", role_groups["Publishers"], team)
    cd = cli_token(cd_account)
    review = cli_token(reviewer)

    ok(ci.post("/api/v1/models/", {"name": "fraud-detector", "team": team.name}, format="json"), 201)

    def ship(weights: bytes, expected_number: int) -> None:
        meta = {**METADATA, "files": {"model.pkl": {"sha256": hashlib.sha256(weights).hexdigest()}}}
        version = ok(post_version(ci, "fraud-detector", [("model.pkl", weights)], meta), 201)
        assert (version["version"], version["status"]) == (expected_number, "ready")
        url = f"/api/v1/models/fraud-detector/versions/{expected_number}/transition/"
        assert ok(ci.post(url, {"to": "staging"}, format="json"))["stage"] == "staging"
        req = ok(
            ci.post(
                "/api/v1/transition-requests/",
                {
                    "model": "fraud-detector",
                    "version": expected_number,
                    "to": "production",
                    "comment": "good",
                },
                format="json",
            ),
            201,
        )
        with nothing_written():
            self_approval = ci.post(f"/api/v1/transition-requests/{req['id']}/approve/", {}, format="json")
        assert self_approval.status_code == 403
        assert self_approval.json()["errors"][0]["code"] == "self_approval_forbidden"
        approved = ok(
            review.post(
                f"/api/v1/transition-requests/{req['id']}/approve/", {"comment": "lgtm"}, format="json"
            )
        )
        assert (approved["status"], approved["version_stage"]) == ("approved", "production")

    def pull_production() -> tuple[int, bytes]:
        version = ok(cd.get("/api/v1/models/fraud-detector/versions/production/"))
        file = version["files"][0]
        download = cd.get(f"/api/v1/models/fraud-detector/versions/production/files/{file['path']}")
        assert download.status_code == 200
        data = b"".join(download.streaming_content)
        assert hashlib.sha256(data).hexdigest() == file["sha256"] == download["ETag"].strip('"')
        return version["version"], data

    ship(b"weights-v1" * 1000, 1)
    assert pull_production() == (1, b"weights-v1" * 1000)
    after_v1 = timezone.now()

    ship(b"weights-v2" * 1000, 2)
    assert pull_production() == (2, b"weights-v2" * 1000)
    assert ok(cd.get("/api/v1/models/fraud-detector/versions/1/"))["stage"] == "archived"

    rolled = ok(
        review.post(
            "/api/v1/models/fraud-detector/rollback/", {"version": 1, "reason": "v2 drifts"}, format="json"
        )
    )
    assert rolled["stage"] == "production"
    assert pull_production() == (1, b"weights-v1" * 1000)

    audit = ok(cd.get("/api/v1/audit/?model=fraud-detector&page_size=100"))["results"]
    story = [
        (row["kind"], row["version"], row["from_stage"], row["to_stage"], row["actor"])
        for row in reversed(audit)
    ]
    assert story == [
        ("model_created", None, "", "", publisher.username),
        ("registered", 1, "", "none", publisher.username),
        ("direct", 1, "none", "staging", publisher.username),
        ("requested", 1, "", "", publisher.username),
        ("approval", 1, "", "", reviewer.username),
        ("approved", 1, "staging", "production", reviewer.username),
        ("registered", 2, "", "none", publisher.username),
        ("direct", 2, "none", "staging", publisher.username),
        ("requested", 2, "", "", publisher.username),
        ("approval", 2, "", "", reviewer.username),
        ("automatic", 1, "production", "archived", reviewer.username),
        ("approved", 2, "staging", "production", reviewer.username),
        ("automatic", 2, "production", "archived", reviewer.username),
        ("rollback", 1, "archived", "production", reviewer.username),
    ]
    assert audit[0]["comment"] == "v2 drifts"

    then = ok(cd.get("/api/v1/models/fraud-detector/history/", {"at": after_v1.isoformat()}))
    assert then["stages"]["production"] == [1]
    assert then["production_entry"]["kind"] == "approved"
    now = ok(cd.get("/api/v1/models/fraud-detector/history/", {"at": timezone.now().isoformat()}))
    assert (now["stages"]["production"], now["stages"]["archived"]) == ([1], [2])
    assert now["production_entry"]["kind"] == "rollback"
