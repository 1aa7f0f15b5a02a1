"""Google's own Python client against the emulator over gRPC, and the same checks over REST.

Usage: python3 grpc_client_test.py http://127.0.0.1:PORT
Needs `pip install google-cloud-logging` (scripts/test.sh installs it).

- The same write/list suite (text, JSON and AuditLog proto payloads with resources and labels,
  filters, paging, newest first) runs through google.cloud.logging's Client twice: once over
  REST, once over gRPC (the GAPIC LoggingServiceV2Client on an insecure channel, as an emulator
  is reached). Both runs must read back identical entries, and entries written over one
  protocol must read back identically over the other.
- list_logs, delete_log, list_monitored_resource_descriptors and tail_log_entries through GAPIC.
- A malformed request, a bad filter and an unknown project fail with the same status code and
  message over both protocols.
Exits non-zero on any mismatch.
"""

import queue
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone

import grpc
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import exceptions as cloud_exceptions
from google.cloud import logging as cloud_logging
from google.cloud.audit import audit_log_pb2
from google.cloud.logging_v2 import _gapic
from google.cloud.logging_v2.resource import Resource
from google.cloud.logging_v2.services.logging_service_v2 import LoggingServiceV2Client
from google.cloud.logging_v2.services.logging_service_v2.transports import (
    LoggingServiceV2GrpcTransport,
)
from google.cloud.logging_v2.types import (
    ListLogEntriesRequest,
    LogEntry,
    TailLogEntriesRequest,
    WriteLogEntriesRequest,
)
from google.protobuf import any_pb2, duration_pb2, struct_pb2

PROJECT = "grpc-project"
DEADLINE_SECONDS = 60


def clients(url):
    """A REST client, a gRPC client (same high-level API) and the raw GAPIC client."""
    rest = cloud_logging.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        _use_grpc=False,
        client_options={"api_endpoint": url},
    )
    address = url.removeprefix("http://")
    gapic = LoggingServiceV2Client(
        transport=LoggingServiceV2GrpcTransport(channel=grpc.insecure_channel(address))
    )
    over_grpc = cloud_logging.Client(
        project=PROJECT, credentials=AnonymousCredentials(), _use_grpc=True
    )
    # The high-level client builds its own (TLS) channel; hand it the insecure GAPIC client.
    over_grpc._logging_api = _gapic._LoggingAPI(gapic, over_grpc)
    return rest, over_grpc, gapic


# An hour ago, whole minute: the client adds a 24-hour timestamp filter to every listing.
BASE = datetime.now(timezone.utc).replace(second=0, microsecond=123456) - timedelta(hours=1)


def at(second):
    return BASE + timedelta(seconds=second)


def write_suite(client, log_id, run):
    """Writes the same entries through `client`, whatever its transport."""
    logger = client.logger(log_id)
    container = Resource(
        type="container",
        labels={"cluster_name": "fastapi-cluster", "namespace_id": "default"},
    )
    pod = Resource(
        type="k8s_container",
        labels={"cluster_name": "fastapi-cluster", "pod_name": "web-1", "container_name": "api"},
    )
    labels = {"run": run, "team": "web"}
    logger.log_text(
        "hello from python",
        severity="WARNING",
        resource=container,
        labels=labels,
        insert_id=f"text-1-{log_id}",
        timestamp=at(1),
        trace=f"projects/{PROJECT}/traces/abc",
        span_id="000000000000004a",
    )
    logger.log_struct(
        {
            "message": "structured hello",
            "user": {"id": 42, "name": "ann", "tags": ["a", "b"]},
            "ratio": 0.25,
            "ok": True,
            "nothing": None,
        },
        severity="ERROR",
        resource=pod,
        labels=labels,
        insert_id=f"json-1-{log_id}",
        timestamp=at(2),
        http_request={"requestMethod": "GET", "requestUrl": "/items/7", "status": 503},
        source_location={"file": "app.py", "line": "12", "function": "handler"},
    )
    audit = audit_log_pb2.AuditLog(
        service_name="storage.googleapis.com",
        method_name="storage.buckets.delete",
        resource_name="projects/_/buckets/b",
        num_response_items=3,
    )
    audit.authentication_info.principal_email = "alice@example.com"
    # Packed, so the REST transport's JSON carries the "@type" an Any needs (as with the real API).
    packed = any_pb2.Any()
    packed.Pack(audit)
    logger.log_proto(
        packed,
        severity="NOTICE",
        resource=Resource(type="gce_instance", labels={"instance_id": "1", "zone": "z"}),
        labels=labels,
        insert_id=f"proto-1-{log_id}",
        timestamp=at(3),
    )
    batch = logger.batch()
    for i in range(7):
        batch.log_text(
            f"batched {i}",
            resource=container,
            labels={"run": run},
            insert_id=f"batch-{i}-{log_id}",
            timestamp=at(10 + i),
        )
    batch.commit()


def comparable(entry, log_id):
    """An entry as JSON, without what differs between runs: the log id (also in insertIds, as
    Cloud Logging drops an entry whose insertId and timestamp it already has) and receive time."""
    out = entry.to_api_repr()
    out.pop("receiveTimestamp", None)
    out["logName"] = out["logName"].replace(log_id, "LOG")
    out["insertId"] = out["insertId"].replace(f"-{log_id}", "")
    return out


def read_suite(client, log_id, run):
    """Reads the suite's entries back through `client` with filters and paging."""

    def read(filter_="", **kwargs):
        base = f'logName="projects/{PROJECT}/logs/{log_id}" labels.run="{run}"'
        return [
            comparable(e, log_id)
            for e in client.list_entries(
                resource_names=[f"projects/{PROJECT}"],
                filter_=f"{base} AND ({filter_})" if filter_ else base,
                **kwargs,
            )
        ]

    results = {
        "all": read(order_by=cloud_logging.ASCENDING),
        "severity": read("severity>=WARNING"),
        "json field": read('jsonPayload.user.name="ann"'),
        "proto field": read('protoPayload.methodName="storage.buckets.delete"'),
        "resource": read('resource.type="container" resource.labels.cluster_name="fastapi-cluster"'),
        "bare word": read('"structured hello"'),
        "newest first, pages of 2": read(
            "textPayload:batched", order_by=cloud_logging.DESCENDING, page_size=2
        ),
    }
    return results


def check_suite_results(results):
    everything = results["all"]
    assert len(everything) == 10, everything
    text, struct, proto = everything[:3]
    assert text["textPayload"] == "hello from python", text
    assert text["severity"] == "WARNING" and text["labels"] == {"run": text["labels"]["run"], "team": "web"}
    assert text["resource"]["labels"]["cluster_name"] == "fastapi-cluster", text
    assert text["timestamp"].startswith(at(1).strftime("%Y-%m-%dT%H:%M:%S.123456")), text
    assert struct["jsonPayload"]["user"] == {"id": 42, "name": "ann", "tags": ["a", "b"]}, struct
    assert struct["jsonPayload"]["ratio"] == 0.25 and struct["jsonPayload"]["nothing"] is None
    assert struct["httpRequest"]["status"] == 503, struct
    assert proto["protoPayload"]["@type"] == "type.googleapis.com/google.cloud.audit.AuditLog"
    assert proto["protoPayload"]["methodName"] == "storage.buckets.delete", proto
    assert proto["protoPayload"]["authenticationInfo"]["principalEmail"] == "alice@example.com"
    assert [e["insertId"] for e in results["severity"]] == ["text-1", "json-1"]
    assert [e["insertId"] for e in results["json field"]] == ["json-1"]
    assert [e["insertId"] for e in results["proto field"]] == ["proto-1"]
    assert [e["insertId"] for e in results["resource"]] == ["text-1"] + [f"batch-{i}" for i in range(7)]
    assert [e["insertId"] for e in results["bare word"]] == ["json-1"]
    assert [e["insertId"] for e in results["newest first, pages of 2"]] == [
        f"batch-{i}" for i in reversed(range(7))
    ]


def same_suite_over_both_protocols(rest, over_grpc, run):
    rest_log, grpc_log = f"rest-{run}", f"grpc-{run}"
    write_suite(rest, rest_log, run)
    write_suite(over_grpc, grpc_log, run)
    runs = {
        "written over REST, read over REST": read_suite(rest, rest_log, run),
        "written over gRPC, read over gRPC": read_suite(over_grpc, grpc_log, run),
        "written over REST, read over gRPC": read_suite(over_grpc, rest_log, run),
        "written over gRPC, read over REST": read_suite(rest, grpc_log, run),
    }
    reference = runs["written over REST, read over REST"]
    check_suite_results(reference)
    for name, results in runs.items():
        for check, entries in results.items():
            assert entries == reference[check], (
                f"{name}, {check}:\n{entries}\n!=\n{reference[check]}"
            )
    print(f"same suite over REST and gRPC: {len(reference['all'])} entries identical 4 ways")


def gapic_calls(gapic, rest, run):
    log_name = f"projects/{PROJECT}/logs/gapic-{run}"
    struct = struct_pb2.Struct()
    struct.update({"message": "direct", "n": 1})
    gapic.write_log_entries(
        request=WriteLogEntriesRequest(
            log_name=log_name,
            resource={"type": "global"},
            labels={"run": run},
            entries=[LogEntry(text_payload="one"), LogEntry(json_payload=struct, severity=500)],
        )
    )
    # partial_success with a bad entry: INVALID_ARGUMENT, the good one written.
    try:
        gapic.write_log_entries(
            request=WriteLogEntriesRequest(
                log_name=log_name,
                resource={"type": "global"},
                partial_success=True,
                entries=[LogEntry(text_payload="kept"), LogEntry(log_name="projects/p/logs/bad name", text_payload="x")],
            )
        )
        raise AssertionError("a bad entry must be rejected")
    except api_exceptions.InvalidArgument as e:
        assert "Log entry with index 1 is invalid" in e.message, e.message
    # dry_run writes nothing.
    gapic.write_log_entries(
        request=WriteLogEntriesRequest(
            log_name=log_name, resource={"type": "global"}, dry_run=True,
            entries=[LogEntry(text_payload="dry")],
        )
    )
    pager = gapic.list_log_entries(
        request=ListLogEntriesRequest(
            resource_names=[f"projects/{PROJECT}"],
            filter=f'logName="{log_name}"',
            page_size=1,
        )
    )
    texts = [e.text_payload or e.json_payload["message"] for e in pager]
    assert texts == ["one", "direct", "kept"], texts

    logs = list(gapic.list_logs(request={"parent": f"projects/{PROJECT}", "page_size": 2}))
    assert log_name in logs, logs
    gapic.delete_log(log_name=log_name)
    assert log_name not in list(gapic.list_logs(parent=f"projects/{PROJECT}"))
    assert not list(gapic.list_log_entries(resource_names=[f"projects/{PROJECT}"], filter=f'logName="{log_name}"'))

    types = [d.type for d in gapic.list_monitored_resource_descriptors(request={"page_size": 3})]
    assert "k8s_container" in types and "global" in types, types
    rest_types = [
        d["type"]
        for d in rest._connection.api_request(method="GET", path="/monitoredResourceDescriptors")[
            "resourceDescriptors"
        ]
    ]
    assert rest_types == types, (rest_types, types)
    print("gapic calls: ok")


def tail(gapic, rest, over_grpc, run):
    """A tail started first receives what is written after it, over either protocol."""
    log_id = f"tail-{run}"
    rest.logger(log_id).log_text("before the tail", resource=Resource(type="global", labels={}))
    requests = iter(
        [
            TailLogEntriesRequest(
                resource_names=[f"projects/{PROJECT}"],
                filter=f'log_id("{log_id}")',
                buffer_window=duration_pb2.Duration(nanos=100_000_000),
            )
        ]
    )
    # Returns once the emulator's first (empty) response says the tail is listening.
    stream = gapic.tail_log_entries(requests=requests)
    received = queue.Queue()

    def read():
        try:
            for response in stream:
                for entry in response.entries:
                    received.put(entry.text_payload)
        except Exception as e:  # the stream is cancelled at the end
            received.put(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    written = []
    for i in range(3):
        for name, client in (("rest", rest), ("grpc", over_grpc)):
            text = f"tailed {i} via {name}"
            client.logger(log_id).log_text(text, resource=Resource(type="global", labels={}))
            written.append(text)
    got = []
    while len(got) < len(written):
        item = received.get(timeout=DEADLINE_SECONDS)
        assert not isinstance(item, Exception), item
        got.append(item)
    assert got == written, got
    stream.cancel()
    print(f"tail: {len(got)} entries written after it started, in order")


def same_errors(gapic, rest):
    """A malformed request, a bad filter and an unknown project: the same status both ways."""

    def over_grpc(call):
        try:
            call()
        except api_exceptions.GoogleAPICallError as e:
            return e.grpc_status_code.name, e.message
        raise AssertionError("the gRPC call must fail")

    def over_rest(method, path, data=None):
        try:
            rest._connection.api_request(method=method, path=path, data=data)
        except cloud_exceptions.GoogleCloudError as e:
            error = e.response.json()["error"]
            return error["status"], error["message"]
        raise AssertionError("the REST call must fail")

    cases = {
        "malformed request (no entries)": (
            lambda: gapic.write_log_entries(request=WriteLogEntriesRequest(entries=[])),
            ("POST", "/entries:write", {"entries": []}),
        ),
        "malformed request (resource name)": (
            lambda: list(gapic.list_log_entries(resource_names=["projects"])),
            ("POST", "/entries:list", {"resourceNames": ["projects"]}),
        ),
        "bad filter": (
            lambda: list(gapic.list_log_entries(resource_names=[f"projects/{PROJECT}"], filter='severity>="loud" AND (')),
            ("POST", "/entries:list", {"resourceNames": [f"projects/{PROJECT}"], "filter": 'severity>="loud" AND ('}),
        ),
        "unknown project": (
            lambda: gapic.delete_log(log_name="projects/no-such-project/logs/app"),
            ("DELETE", "/projects/no-such-project/logs/app", None),
        ),
    }
    for name, (grpc_call, rest_call) in cases.items():
        g, r = over_grpc(grpc_call), over_rest(*rest_call)
        assert g == r, f"{name}: gRPC {g} != REST {r}"
        print(f"same error for {name}: {g[0]}: {g[1]}")
    assert over_grpc(cases["unknown project"][0])[0] == "NOT_FOUND"
    assert over_grpc(cases["bad filter"][0])[1].startswith("filter: "), "the filter error says where"


def main(url):
    run = uuid.uuid4().hex[:12]
    rest, over_grpc, gapic = clients(url)
    same_suite_over_both_protocols(rest, over_grpc, run)
    gapic_calls(gapic, rest, run)
    tail(gapic, rest, over_grpc, run)
    same_errors(gapic, rest)
    print("python grpc client: ok")


if __name__ == "__main__":
    main(sys.argv[1])
