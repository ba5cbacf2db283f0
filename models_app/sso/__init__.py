"""Signing in: the registry's login and logout pages, and sign-in through the company's identity provider
(OpenID Connect, with mozilla-django-oidc doing the protocol).

- ``config``: REGISTRY_OIDC_* and the password-login switches -> settings (pure; settings.py imports it);
- ``discovery``: the provider's discovery document, fetched at first use and cached;
- ``backend``: the authentication backends (the provider's, with the checks the library lacks, and the
  password policy gate);
- ``views`` and ``urls``: login, logout, the provider's start and callback pages, the error page.

Which user a subject is and which roles follow from the provider's groups is decided and written by
``services.identity_sign_in``; who may use a password by ``rules.may_sign_in_with_password``.
"""
