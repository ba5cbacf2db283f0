"""Fixtures of the S3-only tests; the S3 server, bucket and storage fixtures live in tests/s3_fixtures.py."""

from __future__ import annotations

import pytest


@pytest.fixture
def small_parts(settings):
    """Direct uploads use S3's smallest part size so a multi-part file stays small in tests."""
    settings.REGISTRY_UPLOAD_PART_SIZE = 5 * 1024 * 1024
    return settings.REGISTRY_UPLOAD_PART_SIZE


@pytest.fixture
def api(db):
    """``api(user)``: a bearer-token API client for ``user`` (None for an anonymous caller)."""
    from tests.api.conftest import token_client

    return token_client
