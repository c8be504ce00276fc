"""Checks provider request bodies, and the fake provider's answers, against the
providers' own OpenAPI schemas.

The schemas come from tests/specs/provider-requests.json (generated from
../shared/specs by scripts/extract_provider_specs.py and committed), so this
needs only the standard library and Debian's python3-jsonschema (4.10 on
Debian 12; newer versions work too).

    from spec_check import validate, validate_recorded
    validate("POST /emails", {"from": "a@x.de", "subject": "s"})
        -> ["$.to: required property is missing"]
    validate_recorded(fake.messages())      # [] when every recorded request is valid
    validate_answer("GET /sms/3/logs", fake.sms_logs("a").json())   # the 200 answer's schema

Errors name the JSON path of the offending value ("$.messages[0].content.text").
Formats ("date-time") are not asserted: the OpenAPI files use them loosely
(Infobip's sendAt is "2026-05-12T08:00:00.000+0000", not RFC 3339).
"""
import json
import os
import re

import jsonschema

SPEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "specs",
                         "provider-requests.json")
BATCH = "POST /emails/batch"
ANSWER = "answer to "
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
          int: "an integer", float: "a number", type(None): "null"}

_schemas = None
_validators = {}


def schemas():
    """endpoint -> JSON Schema, as generated (the "_..." notes left out)."""
    global _schemas
    if _schemas is None:
        with open(SPEC_FILE, encoding="utf-8") as f:
            data = json.load(f)
        _schemas = {k: v for k, v in data.items() if not k.startswith("_")}
    return _schemas


def endpoints():
    """The endpoints there are request-body schemas for ("POST /emails", ...)."""
    return sorted(k for k in schemas() if not k.startswith(ANSWER))


def answer_endpoints():
    """The endpoints there are 200-answer schemas for ("GET /sms/3/logs", ...)."""
    return sorted(k[len(ANSWER):] for k in schemas() if k.startswith(ANSWER))


def _endpoint(endpoint):
    """"POST /emails" as is; a bare path means POST."""
    return endpoint if " " in endpoint else "POST " + endpoint


def _validator(name):
    """The validator for an endpoint, or for "item of POST /emails/batch"."""
    if name not in _validators:
        if name.startswith("item of "):
            root = schemas()[name[len("item of "):]]
            schema = dict(root["items"])
            if "$defs" in root:
                schema["$defs"] = {**root["$defs"], **schema.get("$defs", {})}
            schema["$schema"] = root["$schema"]
        else:
            schema = schemas()[name]
        cls = jsonschema.validators.validator_for(schema)
        _validators[name] = cls(schema)
    return _validators[name]


def json_path(parts):
    """$.messages[0].content.text from a sequence of keys and indices."""
    out = "$"
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _IDENT.match(p):
            out += "." + p
        else:
            out += "[" + json.dumps(p) + "]"
    return out


def _short(value, limit=60):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _kind(value):
    return _TYPES.get(type(value), type(value).__name__)


def _message(e):
    """One error's text (without its path), the same whatever the jsonschema version."""
    v, want, got = e.validator, e.validator_value, e.instance
    if v == "type":
        wanted = want if isinstance(want, list) else [want]
        return f"must be of type {' or '.join(wanted)}, not {_kind(got)} ({_short(got)})"
    if v == "enum":
        return f"{_short(got)} is not one of {_short(want, 200)}"
    if v == "const":
        return f"must be {_short(want)}, not {_short(got)}"
    if v in ("minLength", "maxLength"):
        return (f"must be {'at least' if v == 'minLength' else 'at most'} {want} characters "
                f"long (is {len(got)})")
    if v in ("minItems", "maxItems"):
        return (f"must have {'at least' if v == 'minItems' else 'at most'} {want} items "
                f"(has {len(got)})")
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{_short(got)} breaks {v} {want}"
    if v == "pattern":
        return f"{_short(got)} does not match the pattern {want!r}"
    if v == "additionalProperties":
        return "has properties the schema does not allow"
    return e.message if len(e.message) <= 200 else e.message[:197] + "..."


def _branches(e):
    """The sub-errors of a oneOf/anyOf error, grouped by alternative."""
    groups = {}
    for sub in e.context:
        groups.setdefault(sub.relative_schema_path[0], []).append(sub)
    return groups


def _render(e):
    """Human-readable lines for one jsonschema error (and what lies under it)."""
    path = list(e.absolute_path)
    if e.validator == "required":
        missing = [r for r in e.validator_value
                   if isinstance(e.instance, dict) and r not in e.instance
                   and e.message == f"{r!r} is a required property"]
        name = missing[0] if missing else e.message.split("'")[1]
        return [f"{json_path(path + [name])}: required property is missing"]
    if e.validator in ("oneOf", "anyOf"):
        if not e.context:  # oneOf: more than one alternative matched
            return [f"{json_path(path)}: matches more than one alternative of {e.validator}"]
        groups = _branches(e)
        # alternatives whose type fits the value: the ones the sender presumably meant
        fitting = {i: errs for i, errs in groups.items()
                   if not any(s.validator == "type" and not s.relative_path for s in errs)}
        if len(fitting) == 1:
            [errs] = fitting.values()
            return sorted(line for s in errs for line in _render(s))
        parts = []
        for i in sorted(groups):
            lines = sorted(line for s in groups[i] for line in _render(s))
            parts.append(f"alternative {i}: " + "; ".join(lines))
        return [f"{json_path(path)}: matches none of the {len(groups)} alternatives of "
                f"{e.validator} ({' | '.join(parts)})"]
    return [f"{json_path(path)}: {_message(e)}"]


def _errors(name, body):
    lines = []
    for e in _validator(name).iter_errors(body):
        lines += _render(e)
    return sorted(set(lines))


def validate(endpoint, body):
    """The ways body breaks the schema of endpoint ("POST /emails"; a bare path means POST)
    as sorted, human-readable lines "<JSON path>: <problem>"; [] when it is valid.
    KeyError for an endpoint without a schema."""
    name = _endpoint(endpoint)
    if name not in schemas():
        raise KeyError(f"no schema for {name!r}; there are: {', '.join(endpoints())}")
    return _errors(name, body)


def validate_answer(endpoint, body):
    """validate() for the 200 answer of endpoint ("GET /sms/3/logs"; a bare path means POST).
    KeyError for an endpoint without an answer schema."""
    name = ANSWER + _endpoint(endpoint)
    if name not in schemas():
        raise KeyError(f"no answer schema for {_endpoint(endpoint)!r}; there are: "
                       f"{', '.join(answer_endpoints())}")
    return _errors(name, body)


def validate_batch_item(body):
    """validate() for one element of a POST /emails/batch array."""
    return _errors("item of " + BATCH, body)


def validate_recorded(fake_messages):
    """Validates the "request" member of records from the fake provider (FakeProvider.messages())
    by their "endpoint"; a record with "request_batch" holds one element of a batch array.
    Records of one request share its body: each distinct body is checked once. Returns lines
    "<endpoint> record <i> (key <key>[, and N more]): <JSON path>: <problem>"; [] when all
    are valid."""
    out = []
    seen = {}  # (schema name, body) -> index in checks
    checks = []  # [schema name, body, record indices, first record]
    for i, rec in enumerate(fake_messages):
        endpoint = rec.get("endpoint", "?")
        if "request" not in rec:
            out.append(f"POST {endpoint} record {i} (key {rec.get('key')}): no \"request\" "
                       "member (is the fake provider up to date?)")
            continue
        name = _endpoint(endpoint)
        if name not in schemas():
            out.append(f"{name} record {i}: no schema for this endpoint")
            continue
        if rec.get("request_batch"):
            name = "item of " + name
        key = (name, json.dumps(rec["request"], sort_keys=True))
        if key not in seen:
            seen[key] = len(checks)
            checks.append([name, rec["request"], [], rec])
        checks[seen[key]][2].append(i)
    for name, body, indices, rec in checks:
        more = f", and {len(indices) - 1} more" if len(indices) > 1 else ""
        where = f"{name} record {indices[0]} (key {rec.get('key')}{more})"
        out += [f"{where}: {line}" for line in _errors(name, body)]
    return out
