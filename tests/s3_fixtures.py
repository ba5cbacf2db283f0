"""A real S3 API server (moto's server mode) on 127.0.0.1, a fresh bucket per test, and fixtures that switch
the artifact storage to it. Registered for the whole suite by ``pytest_plugins`` in tests/conftest.py.

The server starts only when a test first asks for it and then serves the rest of the session, so runs
without S3 tests pay nothing and runs with them pay for one start-up.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading

import pytest

REGION = "us-east-1"
CREDENTIALS = {"access_key": "registry-test", "secret_key": "registry-test-secret"}
_buckets = itertools.count(1)
_sessions = threading.local()


class S3Server:
    """moto's S3 server in a thread; ``down()`` makes the bucket unreachable for a while."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        # Port 0: the kernel picks a free port, so parallel workers (pytest -n) never race for one.
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.running = False
        self._client = None
        self.start()
        self.port = self._server.get_host_and_port()[1]
        # ``down()`` restarts the server: on the same port, which the clients' endpoint names.
        self._server._port = self.port
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if not self.running:
            self._server.start()
            self.running = True

    def stop(self) -> None:
        if self.running:
            self._server.stop()
            # shutdown() leaves the socket listening, and connections would hang instead of failing.
            self._server._server.server_close()
            self.running = False

    @contextlib.contextmanager
    def down(self):
        """The bucket is unreachable (connections refused) inside the block."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def client(self):
        """A client of the server for test set-up (made once: building a client is the costly part)."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["access_key"],
            aws_secret_access_key=CREDENTIALS["secret_key"],
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )


def _reuse_boto3_sessions(create_session):
    """Wrap S3Storage._create_session: one boto3 session per thread and credentials for the whole run.

    Every test gets a new storage instance, and a new boto3 session loads botocore's JSON service models
    again: a quarter of a second and a burst of garbage collection per test. Sessions are not thread-safe,
    hence one per thread (live-server tests serve requests in other threads).
    """

    def reused(storage):
        key = (storage.session_profile, storage.access_key, storage.secret_key, storage.security_token)
        cache = _sessions.__dict__.setdefault("by_credentials", {})
        if key not in cache:
            cache[key] = create_session(storage)
        return cache[key]

    return reused


@pytest.fixture(scope="session")
def s3_server():
    from storages.backends.s3 import S3Storage

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = S3Server()
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Storage, "_create_session", _reuse_boto3_sessions(S3Storage._create_session))
        yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server):
    """A new empty bucket for this test, so listings (gc, verify) see only this test's objects."""
    s3_server.start()
    name = f"registry-test-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_locked_bucket(s3_server):
    """A new empty bucket created with S3 Object Lock (hence versioned), as a registry would use for holds."""
    s3_server.start()
    name = f"registry-locked-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def s3_storage_settings(server: S3Server, bucket: str) -> dict:
    """The STORAGES["default"] entry that REGISTRY_STORAGE=s3 produces, pointed at the test server."""
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": server.endpoint,
            "region_name": REGION,
            **CREDENTIALS,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_expire": 300,
            "max_memory_size": 8 * 1024 * 1024,
            # What signature_version/addressing_style produce in production, with a single attempt so
            # the outage tests fail fast instead of backing off through botocore's retries.
            "client_config": Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                retries={"mode": "standard", "max_attempts": 1},
            ),
        },
    }


@pytest.fixture
def s3_storage(settings, artifact_root, s3_server, s3_bucket):
    """Artifacts go to the S3 test server (overrides the filesystem storage of tests/conftest.py)."""
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(s3_server, s3_bucket)}
    from django.core.files.storage import storages

    return storages["default"]


@pytest.fixture
def s3_locked_storage(settings, artifact_root, s3_server, s3_locked_bucket):
    """Artifacts go to an Object Lock bucket on the S3 test server."""
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_settings(s3_server, s3_locked_bucket)}
    from django.core.files.storage import storages

    return storages["default"]


@pytest.fixture(params=["filesystem", pytest.param("s3", marks=pytest.mark.s3)])
def any_storage(request, settings, artifact_root):
    """Runs the test once on the filesystem backend and once on S3 (only the S3 run starts the server)."""
    if request.param == "s3":
        return request.getfixturevalue("s3_storage")
    from django.core.files.storage import storages

    return storages["default"]
