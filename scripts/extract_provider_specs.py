#!/usr/bin/env python3
"""Extracts the request-body schemas of the provider endpoints Tidings calls,
and the schemas of their 200 answers, from the providers' own OpenAPI files
into one self-contained JSON file that the tests validate request bodies and
the fake provider's answers against (tests/integration/spec_check.py).

    scripts/extract_provider_specs.py [--specs DIR] [--out FILE] [--check]

--specs  the folder with resend.yaml, infobip-sms.json, infobip-whatsapp.json
         (default: ../shared/specs beside the repository; see its SOURCES.md)
--out    default tests/specs/provider-requests.json (committed: the tests need
         neither ../shared nor PyYAML)
--check  write nothing; exit 1 when FILE differs from what would be written

Needs Debian's python3-yaml. Each entry is a JSON Schema (draft 2020-12) of
one endpoint's request body ("POST /emails") or of its 200 JSON answer
("answer to POST /emails", "answer to GET /sms/3/logs"), converted from
OpenAPI 3.1:
  - every $ref is inlined (a schema that refers back to itself would be kept
    under "$defs" with a "#/$defs/..." reference; none of these six does);
  - OpenAPI-only keywords: "nullable: true" becomes a type union with "null";
    "example", "examples", "externalDocs", "xml", "x-*" are dropped, and so are
    "title" and "description" (to keep the file small: "source" names where
    to read them); "readOnly" properties are taken out of "required", then
    "readOnly"/"writeOnly" are dropped (they say nothing about a request);
  - "format": OpenAPI-only formats (int32, int64, float, double, byte,
    binary, password) are dropped; JSON Schema formats (date-time, email,
    uri, uuid, ...) stay, as annotations;
  - "discriminator": dropped beside oneOf/anyOf (they already choose). On a
    base schema with a "mapping" and no oneOf (Infobip's subtype style: each
    subtype is allOf [base, own fields]) it becomes what it means: the value
    of the property must be one of the mapping's keys, and an if/then per key
    applies that subtype. A $ref to such a base inside an allOf (a subtype
    naming its parent) stands for the base's own fields only.
Output: sorted keys, 2-space indent (objects and arrays that fit in 100
columns on one line), trailing newline; the same input always gives the same
bytes.
"""
import argparse
import copy
import hashlib
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPECS = os.path.join(os.path.dirname(REPO), "shared", "specs")
DEFAULT_OUT = os.path.join(REPO, "tests", "specs", "provider-requests.json")
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# "METHOD path" -> the spec file that defines it.
ENDPOINTS = {
    "POST /emails": "resend.yaml",
    "POST /emails/batch": "resend.yaml",
    "POST /sms/3/messages": "infobip-sms.json",
    "POST /sms/2/text/advanced": "infobip-sms.json",
    "POST /whatsapp/1/message/template": "infobip-whatsapp.json",
    "POST /whatsapp/1/message/text": "infobip-whatsapp.json",
}

# "METHOD path" -> the spec file whose 200 answer (application/json) is extracted as
# "answer to METHOD path".
ANSWERS = dict(ENDPOINTS, **{"GET /sms/3/logs": "infobip-sms.json"})
ANSWER_PREFIX = "answer to "

DROPPED = {"description", "title", "example", "examples", "externalDocs", "xml", "readOnly",
           "writeOnly", "nullable", "discriminator", "$schema", "$id", "$comment"}
JSON_SCHEMA_FORMATS = {"date-time", "date", "time", "duration", "email", "idn-email", "hostname",
                       "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri",
                       "iri-reference", "uuid", "uri-template", "json-pointer",
                       "relative-json-pointer", "regex"}
SCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_ONES = ("items", "additionalProperties", "not", "if", "then", "else", "contains",
               "propertyNames", "unevaluatedProperties", "unevaluatedItems", "additionalItems")


def load_yaml(text):
    """YAML with PyYAML's safe loader, dates kept as strings (JSON has no date type).
    PyYAML is imported only here: the rest of this module (dump) works without it."""
    try:
        import yaml
    except ImportError:
        sys.exit("extract_provider_specs: needs PyYAML (apt-get install -y python3-yaml)")

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return yaml.load(text, Loader=Loader)


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith((".yaml", ".yml")):
        doc = load_yaml(raw.decode("utf-8"))
    else:
        doc = json.loads(raw)
    return doc, hashlib.sha256(raw).hexdigest()


def pointer(*parts):
    """A JSON pointer from raw parts (RFC 6901 escaping)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def resolve(doc, ref):
    if not ref.startswith("#"):
        raise SystemExit(f"extract_provider_specs: external $ref not supported: {ref}")
    node = doc
    for part in ref[1:].split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def short_name(ref):
    """'#/components/schemas/<hash>.TextMessage' -> 'TextMessage'."""
    return ref.rsplit("/", 1)[-1].rsplit(".", 1)[-1]


class Converter:
    """Turns the OpenAPI schemas of one document into JSON Schema, one entry at a time."""

    def __init__(self, doc, file_name):
        self.doc = doc
        self.file_name = file_name

    def entry(self, schema):
        """A self-contained schema for one request body."""
        self.stack = []       # (ref, plain) being inlined, to spot recursion
        self.recursive = {}   # (ref, plain) -> $defs name, once seen recursive
        self.defs = {}
        out = self.convert(schema)
        if self.defs:
            out["$defs"] = self.defs
        return out

    # -- references ---------------------------------------------------------------------------

    def inline(self, ref, plain=False):
        key = (ref, plain)
        if key in self.stack:
            if key not in self.recursive:
                name = short_name(ref) + ("Fields" if plain else "")
                while name in self.defs or name in self.recursive.values():
                    name += "_"
                self.recursive[key] = name
            return {"$ref": "#/$defs/" + self.recursive[key]}
        self.stack.append(key)
        try:
            out = self.convert(resolve(self.doc, ref), plain=plain)
        finally:
            self.stack.pop()
        if key in self.recursive:
            self.defs[self.recursive[key]] = out
            return {"$ref": "#/$defs/" + self.recursive[key]}
        return out

    def is_base(self, node):
        """A $ref to a schema with a discriminator (and no oneOf/anyOf of its own)."""
        if not isinstance(node, dict) or "$ref" not in node:
            return False
        target = resolve(self.doc, node["$ref"])
        return ("discriminator" in target and "oneOf" not in target and "anyOf" not in target)

    # -- schemas ------------------------------------------------------------------------------

    def convert(self, node, plain=False):
        """A converted copy of a schema node; plain: leave a discriminator out."""
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            raise SystemExit(f"extract_provider_specs: not a schema: {node!r}")
        if "$ref" in node:
            out = self.inline(node["$ref"], plain=plain)
            rest = {k: v for k, v in node.items() if k not in ("$ref", "nullable")}
            siblings = self.convert(rest) if rest else {}
            if siblings:
                siblings.setdefault("allOf", []).insert(0, out)
                out = siblings
            if node.get("nullable") is True:
                out = {"anyOf": [out, {"type": "null"}]}
            return out
        out = {}
        for key, value in node.items():
            if key in DROPPED or key.startswith("x-"):
                continue
            if key in SCHEMA_MAPS:
                out[key] = {name: self.convert(v) for name, v in value.items()}
            elif key == "allOf":
                # a $ref to a discriminator base inside allOf names a parent: its fields only
                out[key] = [self.convert(v, plain=self.is_base(v)) for v in value]
            elif key in SCHEMA_LISTS:
                out[key] = [self.convert(v) for v in value]
            elif key in SCHEMA_ONES:
                out[key] = self.convert(value)
            elif key == "format":
                self.format(out, value)
            else:
                out[key] = copy.deepcopy(value)
        if "allOf" in out:
            # {} (what a description-only part becomes) adds nothing; a lone part is the schema
            out["allOf"] = [s for s in out["allOf"] if s != {}]
            if not out["allOf"]:
                del out["allOf"]
            elif len(out["allOf"]) == 1 and len(out) == 1:
                out = out["allOf"][0]
        self.drop_read_only(node, out)
        if node.get("nullable") is True:
            out = self.nullable(out)
        disc = node.get("discriminator")
        if disc and not plain and "oneOf" not in node and "anyOf" not in node:
            self.dispatch(out, disc)
        return out

    @staticmethod
    def format(out, fmt):
        if fmt in JSON_SCHEMA_FORMATS:
            out["format"] = fmt

    def drop_read_only(self, node, out):
        """Takes readOnly properties out of "required" (they are never sent)."""
        if "required" not in out:
            return
        props = node.get("properties", {})
        read_only = set()
        for name, prop in props.items():
            if not isinstance(prop, dict):
                continue
            target = resolve(self.doc, prop["$ref"]) if "$ref" in prop else prop
            if prop.get("readOnly") or target.get("readOnly"):
                read_only.add(name)
        if read_only:
            out["required"] = [r for r in out["required"] if r not in read_only]
            if not out["required"]:
                del out["required"]

    @staticmethod
    def nullable(out):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif isinstance(t, list):
            if "null" not in t:
                out["type"] = t + ["null"]
        else:
            return {"anyOf": [out, {"type": "null"}]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        return out

    def dispatch(self, out, disc):
        """The discriminator of a base schema as JSON Schema: enum of the mapping's keys and
        one if/then per key applying its subtype."""
        mapping = disc.get("mapping")
        prop = disc.get("propertyName")
        if not mapping or not prop:
            return
        rules = [{"properties": {prop: {"enum": sorted(mapping)}}}]
        for value in sorted(mapping):
            rules.append({
                "if": {"type": "object", "properties": {prop: {"const": value}},
                       "required": [prop]},
                "then": self.inline(mapping[value]),
            })
        out.setdefault("allOf", []).extend(rules)


def request_schema(doc, path):
    op = doc["paths"][path]["post"]
    media = op["requestBody"]["content"]["application/json"]
    return media["schema"], pointer("paths", path, "post", "requestBody", "content",
                                    "application/json", "schema")


def answer_schema(doc, method, path):
    """The schema of the 200 application/json answer, and its JSON pointer."""
    answer = doc["paths"][path][method.lower()]["responses"]["200"]
    where = ["paths", path, method.lower(), "responses", "200"]
    if "$ref" in answer:
        where = [p.replace("~1", "/").replace("~0", "~") for p in answer["$ref"][2:].split("/")]
        answer = resolve(doc, answer["$ref"])
    return (answer["content"]["application/json"]["schema"],
            pointer(*where, "content", "application/json", "schema"))


def make_entry(conv, schema, ptr):
    """A converted schema with its "$schema" and "source"."""
    entry = conv.entry(schema)
    entry["$schema"] = DIALECT
    source = {"file": conv.file_name, "pointer": ptr}
    if "$ref" in schema:
        source["schema"] = schema["$ref"]
    elif "$ref" in schema.get("items", {}):
        source["items"] = schema["items"]["$ref"]
    entry["source"] = source
    return entry


def build(specs_dir):
    docs = {}
    out = {
        "_generated_by": ("scripts/extract_provider_specs.py from the providers' OpenAPI files "
                          "in ../shared/specs (see SOURCES.md there); do not edit: regenerate "
                          "with `python3 scripts/extract_provider_specs.py` (needs "
                          "python3-yaml), then commit this file"),
        "_sources": {},
    }
    def converter(file_name):
        if file_name not in docs:
            doc, sha = load(os.path.join(specs_dir, file_name))
            docs[file_name] = Converter(doc, file_name)
            out["_sources"][file_name] = {"openapi": doc.get("openapi"),
                                          "version": doc.get("info", {}).get("version"),
                                          "sha256": sha}
        return docs[file_name]

    for endpoint, file_name in ENDPOINTS.items():
        conv = converter(file_name)
        method, path = endpoint.split(" ", 1)
        out[endpoint] = make_entry(conv, *request_schema(conv.doc, path))
    for endpoint, file_name in ANSWERS.items():
        conv = converter(file_name)
        method, path = endpoint.split(" ", 1)
        out[ANSWER_PREFIX + endpoint] = make_entry(conv, *answer_schema(conv.doc, method, path))
    return out


def dump(data, width=100):
    """Sorted keys, 2-space indent; an object or array whose one-line form fits in width
    columns stays on one line (the deep, small schemas would otherwise be mostly
    indentation)."""

    def one_line(v):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))

    def fmt(v, indent, used):
        flat = one_line(v)
        if not isinstance(v, (dict, list)) or not v or indent + used + len(flat) <= width:
            return flat
        pad = " " * (indent + 2)
        if isinstance(v, dict):
            items = []
            for k in sorted(v):
                key = json.dumps(k, ensure_ascii=False) + ": "
                items.append(pad + key + fmt(v[k], indent + 2, len(key)))
            open_, close = "{", "}"
        else:
            items = [pad + fmt(x, indent + 2, 0) for x in v]
            open_, close = "[", "]"
        return open_ + "\n" + ",\n".join(items) + "\n" + " " * indent + close

    return fmt(data, 0, 0) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--specs", default=DEFAULT_SPECS, help="folder of the OpenAPI files")
    ap.add_argument("--out", default=DEFAULT_OUT, help="the JSON file to write")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 when --out is not up to date")
    args = ap.parse_args()
    text = dump(build(args.specs))
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                same = f.read() == text
        except FileNotFoundError:
            same = False
        print(f"extract_provider_specs: {args.out} is {'up to date' if same else 'STALE'}")
        return 0 if same else 1
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(f"extract_provider_specs: wrote {args.out} ({len(text.encode())} bytes, "
          f"{len(ENDPOINTS)} request bodies, {len(ANSWERS)} answers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
