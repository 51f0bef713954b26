"""Typed payloads: strict parsing, fail-closed types and versions, schemas that agree."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest

from tests.payload_examples import EXAMPLES, payload
from verifier.entries.codec import json_schema, parse_payload, payload_to_json
from verifier.entries.fields import parse_flop
from verifier.entries.payloads import TYPES
from verifier.errors import FormatError


def test_every_type_has_an_example() -> None:
    assert set(EXAMPLES) == set(TYPES)


@pytest.mark.parametrize("entry_type", sorted(TYPES))
def test_example_parses_roundtrips_and_validates(entry_type: str) -> None:
    obj = payload(entry_type)
    parsed = parse_payload(json.dumps(obj).encode())
    assert parsed.type == entry_type and parsed.log == "ledger.example/log"
    assert payload_to_json(parsed) == obj
    schema = json_schema(entry_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(obj, schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("entry_type", sorted(TYPES))
def test_unknown_field_and_missing_field_fail_in_parser_and_schema(entry_type: str) -> None:
    schema = json_schema(entry_type)
    validator = jsonschema.Draft202012Validator(schema)
    extra = payload(entry_type, surprise=1)
    with pytest.raises(FormatError, match="unknown field 'surprise'"):
        parse_payload(json.dumps(extra).encode())
    assert not validator.is_valid(extra)
    first_required = next(iter(EXAMPLES[entry_type]))
    missing = payload(entry_type)
    del missing[first_required]
    field_required = first_required in schema["required"]
    if field_required:
        with pytest.raises(FormatError, match=f"{first_required}: required"):
            parse_payload(json.dumps(missing).encode())
        assert not validator.is_valid(missing)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.update(type="coronation"), "unknown"),
        (lambda p: p.update(v=2), "version 2 is not supported"),
        (lambda p: p.update(v=True), "version"),
        (lambda p: p.pop("log"), "payload.log"),
        (lambda p: p.update(planned_flop=8e25), "expected a string"),
        (lambda p: p.update(planned_flop="8.5"), "decimal FLOP string"),
        (lambda p: p.update(planned_flop="1.25e1"), "whole number"),
        (lambda p: p.update(planned_flop="1e41"), "larger than 1e40"),
        (lambda p: p.update(planned_start="2027-01-04 00:00:00"), "RFC 3339"),
        (lambda p: p.update(planned_start="2027-02-30T00:00:00Z"), "not a valid date"),
        (lambda p: p.update(planned_start="2027-01-04T00:00:00+01:00"), "RFC 3339"),
        (lambda p: p.update(level=64), "not in 0..63"),
        (lambda p: p.update(level="1"), "expected an integer"),
        (lambda p: p.update(org="Acme Corp"), "not a valid ident"),
        (lambda p: p.update(model_name="x" * 201), "longer than 200"),
        (lambda p: p.update(supersedes=-1), "not in 0"),
        (lambda p: p["hardware"].update(chip_count=True), "expected an integer"),
        (lambda p: p.update(halting_criteria="stop"), "expected a list"),
        (lambda p: p.update(model_name="bad\x00name"), "control characters"),
    ],
)
def test_strict_preregistration(mutate, message: str) -> None:
    obj = copy.deepcopy(payload("preregistration"))
    mutate(obj)
    with pytest.raises(FormatError, match=message):
        parse_payload(json.dumps(obj).encode())


def test_payload_type_must_match_envelope() -> None:
    with pytest.raises(FormatError, match="does not match"):
        parse_payload(json.dumps(payload("decision")).encode(), expected_type="submission")


def test_flop_values() -> None:
    assert parse_flop("3e26", "x") == 3 * 10**26
    assert parse_flop("1.5e25", "x") == 15 * 10**24
    assert parse_flop("300000000000000000000000000", "x") == 3 * 10**26
    for bad in ("3E26", "03e26", "3e026", "-1", "1e", "+5", " 5", "inf", "1.0"):
        with pytest.raises(FormatError):
            parse_flop(bad, "x")
