"""Integer input fields of ASCII digits only.

DRF's ``IntegerField`` runs ``int(str(data))``, which reads digits of every script: ``{"version": "\\u0663"}``
would name version 3. Strings must be ``[0-9]+`` (optionally signed); JSON numbers are DRF's as before.
"""

from __future__ import annotations

import re

from rest_framework import serializers

from models_app.inputs import MAX_DIGITS

_SIGNED_ASCII = re.compile(r"-?[0-9]+(\.0*)?\Z")


class AsciiIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, str) and (len(data) > MAX_DIGITS + 2 or not _SIGNED_ASCII.match(data.strip())):
            self.fail("invalid")
        return super().to_internal_value(data)
