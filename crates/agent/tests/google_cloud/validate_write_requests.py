"""Checks `entries:write` request bodies against Google's own schema of the Logging API.

The schema is the discovery document that ships in the google-api-python-client wheel
(googleapiclient/discovery_cache/documents/logging.v2.json). Every body must be a
WriteLogEntriesRequest: no field the schema does not define, no output-only field, every value
of its type and format (int32 numbers, int64 as decimal strings, google-duration,
google-datetime, enums), and beyond what a JSON schema can say, the rules the LogEntry
reference states in words: one payload per entry, a logName whose LOG_ID is URL-encoded, of
`A-Z a-z 0-9 / _ - .` only and shorter than 512 characters, a resource for every entry, and
Cloud Logging's size limits (10 MB per request, 256 KiB per entry).

Usage: python3 validate_write_requests.py DIR
Every DIR/*.json is one request body. Prints one line per problem, then a summary; exits 1 when
there is a problem, 2 when the discovery document cannot be found.
"""

import datetime
import json
import os
import re
import sys
import urllib.parse

MAX_REQUEST_BYTES = 10 * 1000 * 1000
MAX_ENTRY_BYTES = 256 * 1024
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)
# google.protobuf.Duration: up to 10,000 years either way.
MAX_DURATION_SECONDS = 315_576_000_000
DURATION = re.compile(r"^(-?)(\d+)(?:\.(\d{1,9}))?s$")
DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$"
)
LOG_NAME = re.compile(r"^(projects|organizations|folders|billingAccounts)/([^/]+)/logs/(.+)$")
LOG_ID_CHARS = re.compile(r"^[A-Za-z0-9/_.\-]+$")
ENCODED_LOG_ID = re.compile(r"^(?:[A-Za-z0-9_.\-]|%2[Ff])+$")


def discovery_document():
    import googleapiclient

    path = os.path.join(
        os.path.dirname(googleapiclient.__file__),
        "discovery_cache",
        "documents",
        "logging.v2.json",
    )
    with open(path, encoding="utf-8") as f:
        return json.load(f), path


class Checker:
    def __init__(self, schemas):
        self.schemas = schemas
        self.problems = []
        self.where = ""

    def problem(self, path, message):
        self.problems.append(f"{self.where}: {path}: {message}")

    def check(self, value, schema, path):
        if "$ref" in schema:
            return self.check(value, self.schemas[schema["$ref"]], path)
        kind = schema.get("type")
        if kind == "any":
            return
        if kind == "object":
            if not isinstance(value, dict):
                return self.problem(path, f"expected an object, got {short(value)}")
            properties = schema.get("properties")
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if properties is not None and key in properties:
                    field = properties[key]
                    if field.get("readOnly"):
                        self.problem(f"{path}.{key}", "is output only")
                    self.check(item, field, f"{path}.{key}")
                elif extra is not None:
                    self.check(item, extra, f"{path}[{json.dumps(key)}]")
                else:
                    self.problem(f"{path}.{key}", "is not a field of the schema")
            return
        if kind == "array":
            if not isinstance(value, list):
                return self.problem(path, f"expected an array, got {short(value)}")
            for i, item in enumerate(value):
                self.check(item, schema["items"], f"{path}[{i}]")
            return
        if kind == "boolean":
            if not isinstance(value, bool):
                self.problem(path, f"expected a boolean, got {short(value)}")
            return
        if kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                return self.problem(path, f"expected an integer, got {short(value)}")
            low, high = INT32 if schema.get("format") == "int32" else INT64
            if not low <= value <= high:
                self.problem(path, f"{value} is out of {schema.get('format')} range")
            return
        if kind == "number":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.problem(path, f"expected a number, got {short(value)}")
            return
        if kind == "string":
            if not isinstance(value, str):
                return self.problem(path, f"expected a string, got {short(value)}")
            if "enum" in schema and value not in schema["enum"]:
                self.problem(path, f"{value!r} is not one of {schema['enum']}")
            self.check_format(value, schema.get("format"), path)
            return
        self.problem(path, f"schema type {kind!r} is not understood by this checker")

    def check_format(self, value, fmt, path):
        if fmt in ("int64", "uint64"):
            low, high = INT64 if fmt == "int64" else UINT64
            if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
                self.problem(path, f"{value!r} is not an {fmt} decimal string")
        elif fmt == "google-duration":
            m = DURATION.match(value)
            if not m or int(m.group(2)) > MAX_DURATION_SECONDS:
                self.problem(path, f"{value!r} is not a google-duration like '1.500s'")
        elif fmt == "google-datetime":
            if not valid_datetime(value):
                self.problem(path, f"{value!r} is not an RFC 3339 timestamp")
        elif fmt not in (None, "byte"):
            self.problem(path, f"format {fmt!r} is not understood by this checker")


def valid_datetime(text):
    m = DATETIME.match(text)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    if not 1 <= year <= 9999 or hour > 23 or minute > 59 or second > 59:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def short(value):
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_log_name(checker, name, path):
    m = LOG_NAME.match(name)
    if not m:
        return checker.problem(path, f"{short(name)} is not projects/PROJECT_ID/logs/LOG_ID")
    encoded = m.group(3)
    if not ENCODED_LOG_ID.match(encoded):
        checker.problem(
            path,
            f"LOG_ID {short(encoded)} holds a character Cloud Logging refuses "
            "(only A-Z a-z 0-9 / _ - . are allowed, with / URL-encoded)",
        )
    log_id = urllib.parse.unquote(encoded)
    if not LOG_ID_CHARS.match(log_id):
        checker.problem(path, f"decoded LOG_ID {short(log_id)} holds a forbidden character")
    if len(encoded) >= 512 or len(log_id) >= 512:
        checker.problem(path, f"LOG_ID is {len(encoded)} characters; it must be fewer than 512")


def check_request(checker, body, raw_len):
    schemas = checker.schemas
    checker.check(body, schemas["WriteLogEntriesRequest"], "request")
    if raw_len > MAX_REQUEST_BYTES:
        checker.problem("request", f"{raw_len} bytes is over the {MAX_REQUEST_BYTES}-byte limit")
    if not isinstance(body, dict):
        return 0
    if "logName" in body:
        check_log_name(checker, body["logName"], "request.logName")
    entries = body.get("entries")
    if not isinstance(entries, list) or not entries:
        checker.problem("request.entries", "a request needs at least one entry")
        return 0
    request_resource = body.get("resource")
    request_labels = body.get("labels") or {}
    for i, entry in enumerate(entries):
        path = f"request.entries[{i}]"
        if not isinstance(entry, dict):
            continue
        payloads = [k for k in ("textPayload", "jsonPayload", "protoPayload") if k in entry]
        if len(payloads) != 1:
            checker.problem(path, f"has {len(payloads)} payloads {payloads}; one is expected")
        if "logName" in entry:
            check_log_name(checker, entry["logName"], f"{path}.logName")
        elif "logName" not in body:
            checker.problem(path, "has no logName, and neither has the request")
        resource = entry.get("resource", request_resource)
        if not isinstance(resource, dict) or not resource.get("type"):
            checker.problem(path, "has no resource type, and neither has the request")
        if entry.get("insertId") == "":
            checker.problem(f"{path}.insertId", "is empty")
        split = entry.get("split")
        if isinstance(split, dict):
            index, total = split.get("index", 0), split.get("totalSplits", 0)
            if not split.get("uid") or not (isinstance(index, int) and isinstance(total, int)):
                checker.problem(f"{path}.split", "needs a uid, an index and totalSplits")
            elif not 0 <= index < total:
                checker.problem(f"{path}.split", f"index {index} is not below totalSplits {total}")
        # The entry as Cloud Logging stores it: with the request's resource and labels merged in.
        stored = dict(entry)
        stored.setdefault("resource", request_resource)
        stored["labels"] = {**request_labels, **(entry.get("labels") or {})}
        size = len(json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_ENTRY_BYTES:
            checker.problem(path, f"{size} bytes is over the {MAX_ENTRY_BYTES}-byte entry limit")
    return len(entries)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        document, doc_path = discovery_document()
    except (ImportError, OSError) as e:
        print(
            f"cannot load the Logging API's discovery document ({e}); "
            "install it as scripts/test.sh does: pip install -r scripts/test-requirements.txt",
            file=sys.stderr,
        )
        return 2
    checker = Checker(document["schemas"])
    names = sorted(n for n in os.listdir(sys.argv[1]) if n.endswith(".json"))
    requests = entries = 0
    for name in names:
        with open(os.path.join(sys.argv[1], name), "rb") as f:
            raw = f.read()
        checker.where = name
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            checker.problem("request", f"is not UTF-8 JSON: {e}")
            continue
        requests += 1
        entries += check_request(checker, body, len(raw))
    for problem in checker.problems:
        print(problem)
    print(
        f"checked {requests} requests, {entries} entries against WriteLogEntriesRequest "
        f"(logging {document.get('version')} revision {document.get('revision')}, {doc_path}): "
        f"{len(checker.problems)} problems"
    )
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
