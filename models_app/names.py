"""Canonical form of names, so that 'Churn' and 'churn' are one model."""

import unicodedata


def canonical_name(name: str) -> str:
    """Unicode NFKC, then case-folded: the form names are stored and looked up in."""
    return unicodedata.normalize("NFKC", name).casefold()
