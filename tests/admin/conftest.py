import pytest


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """Personas get passwords; the production hasher's cost is not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
