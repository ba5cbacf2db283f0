"""Property tests of the parsing and validation layer: the strict JSON reader, ASCII numbers, time
filters, tag values and the multipart part-header check. Every input either parses to what a JSON
column stores exactly, or is refused with InvalidInput naming a field; nothing else escapes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django import forms
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models_app.api.parsers import _PartHeaderCheck
from models_app.exceptions import InvalidInput
from models_app.filters import UtcIsoDateTimeField
from models_app.inputs import (
    MAX_JSON_DEPTH,
    AsciiIntegerField,
    ascii_int,
    check_json_value,
    int_value,
    is_ascii_int,
    loads_strict,
)
from models_app.metadata import clean_tag_value, clean_version_metadata

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# JSON values Python's json module produces, including what PostgreSQL's jsonb refuses.
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=20,
)


def _storable(value) -> bool:
    """What a jsonb column stores exactly: finite numbers, text without NUL or lone surrogates."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_storable(v) for v in value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    return True


@FAST
@given(json_values)
def test_loads_strict_accepts_exactly_what_a_json_column_stores(value):
    text = json.dumps(value)  # NaN/Infinity become the bare words, surrogates and NUL \u-escapes
    if _storable(value):
        assert loads_strict(text, field="body") == value
    else:
        with pytest.raises(InvalidInput) as refused:
            loads_strict(text, field="body")
        assert refused.value.field  # names the body or the path inside it


@FAST
@given(st.integers(min_value=MAX_JSON_DEPTH + 1, max_value=200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting_is_refused_without_recursion(depth, opener):
    closer = "]" if opener == "[" else "}"
    text = opener * depth + "1" + closer * depth
    with pytest.raises(InvalidInput) as refused:
        loads_strict(text, field="metadata")
    assert refused.value.field == "metadata"


@FAST
@given(st.integers(min_value=0, max_value=MAX_JSON_DEPTH - 1))
def test_nesting_within_the_limit_parses(depth):
    text = "[" * depth + "1" + "]" * depth
    assert loads_strict(text, field="body") is not None


@FAST
@given(st.text(min_size=1, max_size=10).filter(lambda k: "\x00" not in k and k.isprintable()))
def test_a_refused_value_is_named_by_its_path(key):
    assume(all(not 0xD800 <= ord(c) <= 0xDFFF for c in key))
    with pytest.raises(InvalidInput) as refused:
        loads_strict(f'{{"parameters": {{{json.dumps(key)}: [1, NaN]}}}}', field="metadata", inner="")
    assert refused.value.field == f"parameters.{key}[1]"
    with pytest.raises(InvalidInput) as refused:
        check_json_value({key: {"x": "a\x00b"}}, field="signature")
    assert refused.value.field == f"signature.{key}.x"


@FAST
@given(st.from_regex(r"\A[0-9]{1,18}\Z"))
def test_ascii_digits_are_numbers(text):
    assert is_ascii_int(text)
    assert ascii_int(text, field="limit") == int(text)
    assert AsciiIntegerField().clean(text) == int(text)


@FAST
@given(st.text(min_size=1, max_size=6))
def test_nothing_but_ascii_digits_is_a_number(text):
    assume(not all("0" <= c <= "9" for c in text))
    assert not is_ascii_int(text)
    with pytest.raises(InvalidInput) as refused:
        ascii_int(text, field="after")
    assert refused.value.field == "after"


@FAST
@given(st.characters(categories=["Nd", "No"]).filter(lambda c: not "0" <= c <= "9"))
def test_digits_of_other_scripts_are_refused_everywhere(digit):
    text = digit * 2
    assert not is_ascii_int(text)
    with pytest.raises(forms.ValidationError):
        AsciiIntegerField().clean(text)
    with pytest.raises(InvalidInput):
        int_value(text, field="step")


@FAST
@given(st.datetimes(timezones=st.just(UTC)), st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59))
def test_time_filters_convert_to_utc_or_refuse_naming_no_500(moment, offset_minutes):
    offset = timezone(timedelta(minutes=offset_minutes))
    text = moment.replace(tzinfo=offset).isoformat()
    field = UtcIsoDateTimeField()
    try:
        cleaned = field.clean(text)
    except forms.ValidationError as refused:
        assert refused.code in ("overflow", "invalid")
        return
    assert cleaned.tzinfo == UTC
    assert cleaned == moment.replace(tzinfo=offset)


def test_a_time_pushed_past_the_calendar_by_its_offset_is_refused():
    for text in ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        with pytest.raises(forms.ValidationError) as refused:
            UtcIsoDateTimeField().clean(text)
        assert refused.value.code == "overflow"
    assert UtcIsoDateTimeField().clean("2025-01-01T00:00:00+15:30") == datetime(
        2024, 12, 31, 8, 30, tzinfo=UTC
    )


@FAST
@given(json_values)
def test_tag_values_are_strings_or_refused_naming_the_tag(value):
    try:
        text = clean_tag_value(value, "tags.team")
    except InvalidInput as refused:
        assert refused.field == "tags.team"
        assert (
            isinstance(value, dict | list)
            or (isinstance(value, float) and not math.isfinite(value))
            or isinstance(value, str)
        )
        return
    assert isinstance(text, str)
    assert not (isinstance(value, float) and not math.isfinite(value))
    assert not isinstance(value, dict | list)


@FAST
@given(json_values)
def test_metadata_is_refused_naming_a_field_or_stored_exactly(parameters):
    try:
        cleaned = clean_version_metadata(
            {"parameters": {"p": parameters}, "signature": {"inputs": parameters}}
        )
    except InvalidInput as refused:
        assert refused.field.startswith(("parameters", "signature"))
        assert not _storable(parameters)
        return
    assert _storable(parameters)
    assert cleaned["parameters"] == {"p": parameters}


BOUNDARY = b"b0undary"


def _body(filename: bytes) -> bytes:
    return (
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\npayload\r\n--" + BOUNDARY + b"--\r\n"
    )


@FAST
@given(
    st.binary(min_size=1, max_size=40).filter(lambda b: b'"' not in b and b"\r" not in b and b"\n" not in b)
)
def test_part_headers_that_are_not_utf8_are_refused_naming_the_part(filename):
    body = _body(filename)
    try:
        filename.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    for cut in (1, 7, len(body)):  # however the body is split into reads
        check = _PartHeaderCheck(BOUNDARY)
        try:
            for start in range(0, len(body), cut):
                check.feed(body[start : start + cut])
        except InvalidInput as refused:
            assert not utf8
            assert refused.field == "file"
        else:
            assert utf8


@FAST
@given(json_values)
def test_mlflow_integer_parameters_are_ascii_numbers_or_refused_naming_them(value):
    from models_app.mlflow.http import Params

    try:
        number = Params({"max_results": value}, query=False).int(
            "max_results", default=7, minimum=1, maximum=500
        )
    except InvalidInput as refused:
        assert refused.field == "max_results"
        return
    if value in (None, ""):
        assert number == 7
    else:
        assert 1 <= number <= 500
        assert str(value) == str(number) and not isinstance(value, bool)
