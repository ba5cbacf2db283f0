"""Liveness and readiness probes (in-process; tests/ops/test_instances.py stops a real database)."""

import socket

import pytest
from django.db import OperationalError, connection

from models_app.api.views import health


@pytest.fixture(autouse=True)
def _fresh_probe_caches():
    health.reset_caches()
    yield
    health.reset_caches()


def test_health_answers_anonymous_callers(client):
    response = client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ready_lists_every_check(client):
    response = client.get("/api/v1/ready/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "storage", "migrations"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["storage"]["backend"] == "filesystem"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_ready_creates_a_missing_artifact_directory(client, artifact_root):
    assert not artifact_root.exists()
    assert client.get("/api/v1/ready/").status_code == 200
    assert artifact_root.is_dir()
    assert list(artifact_root.iterdir()) == []  # the write probe cleaned up after itself


@pytest.mark.django_db
def test_ready_is_503_when_the_artifact_directory_is_unusable(client, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker / "artifacts")},
        },
    }
    response = client.get("/api/v1/ready/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["checks"]["storage"]["ok"] is False
    assert body["checks"]["storage"]["error"] in ("FileExistsError", "NotADirectoryError")
    assert str(tmp_path) not in response.content.decode()  # anonymous callers learn no paths
    assert body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_the_storage_result_is_cached_briefly(client, settings):
    settings.REGISTRY_READY_CACHE_SECONDS = 60
    first = client.get("/api/v1/ready/").json()["checks"]["storage"]
    second = client.get("/api/v1/ready/").json()["checks"]["storage"]
    assert "cached" not in first
    assert second["cached"] is True
    settings.REGISTRY_READY_CACHE_SECONDS = 0
    assert "cached" not in client.get("/api/v1/ready/").json()["checks"]["storage"]


@pytest.mark.django_db
def test_ready_is_503_not_500_when_the_database_fails(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/api/v1/ready/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {
        "ok": False,
        "error": "OperationalError",
        "duration_ms": checks["database"]["duration_ms"],
    }
    assert checks["migrations"]["ok"] is False
    assert checks["storage"]["ok"] is True


@pytest.mark.django_db
def test_ready_is_503_while_migrations_are_pending_and_remembers_once_applied(client, monkeypatch):
    plans = [[("models_app", "9999_future")], []]
    calls = []

    class FakeExecutor(health.MigrationExecutor):
        def migration_plan(self, targets, clean_start=False):
            calls.append(targets)
            return plans[min(len(calls) - 1, 1)]

    monkeypatch.setattr(health, "MigrationExecutor", FakeExecutor)
    pending = client.get("/api/v1/ready/")
    assert pending.status_code == 503
    assert pending.json()["checks"]["migrations"] == {
        "ok": False,
        "error": "PendingMigrations",
        "duration_ms": pending.json()["checks"]["migrations"]["duration_ms"],
    }
    assert client.get("/api/v1/ready/").status_code == 200
    assert client.get("/api/v1/ready/").status_code == 200
    assert len(calls) == 2  # applied is remembered: no third look at the migration graph


# -- S3 ------------------------------------------------------------------------------------------------


def s3_storage(endpoint, bucket):
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
        },
    }


@pytest.mark.s3
@pytest.mark.django_db
def test_ready_heads_the_s3_bucket(client, settings, s3_server, s3_bucket):
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(s3_server.endpoint, s3_bucket)}
    response = client.get("/api/v1/ready/")
    assert response.status_code == 200
    assert response.json()["checks"]["storage"]["backend"] == "s3"

    health.reset_caches()
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(s3_server.endpoint, "no-such-bucket")}
    response = client.get("/api/v1/ready/")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"] == {
        "ok": False,
        "error": "ClientError",
        "duration_ms": response.json()["checks"]["storage"]["duration_ms"],
    }


@pytest.mark.s3
@pytest.mark.django_db
def test_ready_is_503_quickly_when_s3_is_unreachable(client, settings):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage(f"http://127.0.0.1:{port}", "artifacts")}
    response = client.get("/api/v1/ready/")
    assert response.status_code == 503
    storage = response.json()["checks"]["storage"]
    assert storage["ok"] is False
    assert storage["duration_ms"] < 5000
