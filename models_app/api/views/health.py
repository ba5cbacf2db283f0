"""Liveness and readiness probes. Both answer anonymous callers: they reveal only up or down.

``/api/v1/health/`` says the process answers. ``/api/v1/ready/`` says this instance can serve: the
database answers ``SELECT 1``, the artifact storage is reachable, and every migration is applied.
Both are cheap enough to poll every second: the storage result is cached for
``REGISTRY_READY_CACHE_SECONDS`` and "migrations applied", once true, is remembered for the life of
the process (migrations only ever move forward under a running instance).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from models_app.api.serializers import HealthSerializer
from models_app.storage.artifacts import artifact_storage

log = logging.getLogger(__name__)

S3_CHECK_TIMEOUT_SECONDS = 2


class _Check(dict):
    """One check's outcome: ``{"ok": bool, "duration_ms": float, ...}``."""


def _timed(fn) -> _Check:
    started = time.perf_counter()
    try:
        detail = fn() or {}
        result = _Check(ok=True, **detail)
    except Exception as exc:
        # The message may name hosts or paths; it goes to the log, the anonymous answer gets the class only.
        log.warning("readiness check %s failed: %s", fn.__name__, exc)
        result = _Check(ok=False, error=exc.__class__.__name__)
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    """SELECT 1 on the default database (connect_timeout in settings bounds an unreachable server)."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # Drop the broken connection so the next probe reconnects instead of reusing it.
        if not connection.in_atomic_block:
            connection.close()
        raise
    return {}


_migrations_applied = False


def check_migrations() -> dict:
    """Every migration on disk is applied. Remembered once true."""
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            raise PendingMigrations(f"{len(plan)} migration(s) not applied")
        _migrations_applied = True
    return {}


class PendingMigrations(Exception):
    """The database schema is behind the code."""


def check_storage() -> dict:
    """The artifact storage is reachable: a writable directory, or an S3 bucket that answers HEAD."""
    storage = artifact_storage()
    bucket = getattr(storage, "bucket_name", None)
    if bucket is not None:
        _s3_client(storage).head_bucket(Bucket=bucket)
        return {"backend": "s3"}
    location = getattr(storage, "location", None)
    if location is not None:
        root = Path(location)
        # FileSystemStorage creates the root on the first save; a fresh install is ready too.
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".ready-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
        return {"backend": "filesystem"}
    storage.exists(f"ready-probe/{uuid.uuid4().hex}")
    return {"backend": storage.__class__.__name__}


_s3_clients: dict[tuple, object] = {}


def _s3_client(storage):
    """A client for the storage's bucket with short timeouts and no retries, kept per configuration."""
    import boto3
    from botocore.config import Config

    key = (storage.endpoint_url, storage.region_name, storage.access_key, storage.bucket_name)
    client = _s3_clients.get(key)
    if client is None:
        config = Config(
            signature_version=getattr(storage, "signature_version", None),
            s3={"addressing_style": getattr(storage, "addressing_style", None)},
        )
        if getattr(storage, "client_config", None) is not None:
            config = config.merge(storage.client_config)  # the settings' signing and addressing
        # A probe answers within seconds whatever the storage's own, patient timeouts are.
        config = config.merge(
            Config(
                connect_timeout=S3_CHECK_TIMEOUT_SECONDS,
                read_timeout=S3_CHECK_TIMEOUT_SECONDS,
                retries={"max_attempts": 1, "mode": "standard"},
            )
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=storage.endpoint_url or None,
            region_name=storage.region_name or None,
            aws_access_key_id=storage.access_key or None,
            aws_secret_access_key=storage.secret_key or None,
            aws_session_token=getattr(storage, "security_token", None) or None,
            verify=getattr(storage, "verify", None),
            config=config,
        )
        _s3_clients[key] = client
    return client


_storage_cache: dict[str, tuple[float, _Check]] = {}
_storage_lock = threading.Lock()


def _cached_storage_check() -> _Check:
    ttl = settings.REGISTRY_READY_CACHE_SECONDS
    now = time.monotonic()
    with _storage_lock:
        hit = _storage_cache.get("storage")
        if hit is not None and now - hit[0] < ttl:
            return _Check(hit[1], cached=True)
    result = _timed(check_storage)
    with _storage_lock:
        _storage_cache["storage"] = (time.monotonic(), result)
    return result


def reset_caches() -> None:
    """Forget cached results (tests, and after a configuration change in the same process)."""
    global _migrations_applied
    _migrations_applied = False
    with _storage_lock:
        _storage_cache.clear()
    _s3_clients.clear()


def readiness() -> tuple[bool, dict]:
    """Run every check; return (ready, checks)."""
    checks = {"database": _timed(check_database)}
    checks["storage"] = _cached_storage_check()
    if checks["database"]["ok"]:
        checks["migrations"] = _timed(check_migrations)
    else:
        checks["migrations"] = _Check(ok=False, error="DatabaseUnavailable", duration_ms=0.0)
    return all(c["ok"] for c in checks.values()), checks


_CheckSerializer = inline_serializer(
    "ReadinessCheck",
    {
        "ok": serializers.BooleanField(),
        "duration_ms": serializers.FloatField(),
        "error": serializers.CharField(required=False, help_text="The error class when the check failed."),
        "backend": serializers.CharField(required=False, help_text="Storage only: filesystem or s3."),
        "cached": serializers.BooleanField(required=False, help_text="Storage only: a recent result reused."),
    },
)
ReadySerializer = inline_serializer(
    "Readiness",
    {
        "status": serializers.ChoiceField(choices=["ready", "unready"]),
        "checks": inline_serializer(
            "ReadinessChecks",
            {"database": _CheckSerializer, "storage": _CheckSerializer, "migrations": _CheckSerializer},
        ),
    },
)


class _ProbeView(APIView):
    # Probes answer everyone, are never throttled and never touch a session.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


class HealthView(_ProbeView):
    """Liveness: the process answers. No authentication."""

    @extend_schema(
        operation_id="health",
        tags=["health"],
        summary="Liveness probe",
        description="Answers 200 while the process serves requests. No authentication; touches no database.",
        auth=[],
        responses={200: HealthSerializer},
    )
    def get(self, request):
        return Response({"status": "ok"})


class ReadyView(_ProbeView):
    """Readiness: database, artifact storage and migrations. No authentication."""

    @extend_schema(
        operation_id="ready",
        tags=["health"],
        summary="Readiness probe",
        description=(
            "200 when this instance can serve: the database answers, the artifact storage is reachable and "
            "every migration is applied; 503 otherwise. The body lists each check with `ok`, `duration_ms` "
            "and, on failure, the error class. No authentication."
        ),
        auth=[],
        responses={
            200: OpenApiResponse(ReadySerializer, description="Ready; every check passed."),
            503: OpenApiResponse(ReadySerializer, description="Not ready; the failing checks say why."),
        },
    )
    def get(self, request):
        ready, checks = readiness()
        return Response(
            {"status": "ready" if ready else "unready", "checks": checks}, status=200 if ready else 503
        )


health = HealthView.as_view()
ready = ReadyView.as_view()
