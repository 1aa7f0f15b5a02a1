"""Google's own Python client (google-cloud-logging, REST transport) against the emulator.

Usage: python3 client_test.py http://127.0.0.1:PORT
Writes text and struct entries with log_text/log_struct, reads them back with
list_entries(filter_=...), and exits non-zero on any mismatch.
Needs `pip install google-cloud-logging`.
"""

import sys
import uuid

from google.auth.credentials import AnonymousCredentials
from google.cloud import logging as cloud_logging
from google.cloud.logging_v2.resource import Resource


def main(url: str) -> None:
    project = "python-project"
    client = cloud_logging.Client(
        project=project,
        credentials=AnonymousCredentials(),
        _use_grpc=False,
        client_options={"api_endpoint": url},
    )
    run = uuid.uuid4().hex[:12]
    log_id = f"python-client-{run}"
    logger = client.logger(log_id)
    resource = Resource(
        type="container",
        labels={"cluster_name": "fastapi-cluster", "namespace_id": "default"},
    )

    logger.log_text("hello from python", severity="WARNING", resource=resource, labels={"run": run})
    logger.log_struct(
        {"message": "structured hello", "user": {"id": 42, "name": "ann"}, "ok": True},
        severity="ERROR",
        resource=resource,
        labels={"run": run},
    )
    logger.log_text("plain default", resource=resource, labels={"run": run})

    # Read everything of this run back, oldest first.
    entries = list(
        client.list_entries(
            resource_names=[f"projects/{project}"],
            filter_=f'logName="projects/{project}/logs/{log_id}" labels.run="{run}"',
            order_by=cloud_logging.ASCENDING,
        )
    )
    assert len(entries) == 3, f"expected 3 entries, got {len(entries)}: {entries}"
    text, struct, plain = entries
    assert text.payload == "hello from python", text.payload
    assert text.severity == "WARNING", text.severity
    assert text.resource.type == "container", text.resource
    assert text.resource.labels["cluster_name"] == "fastapi-cluster", text.resource.labels
    assert text.labels == {"run": run}, text.labels
    assert text.insert_id, "server must fill insertId"
    assert text.timestamp is not None and text.received_timestamp is not None
    assert struct.payload["message"] == "structured hello", struct.payload
    assert struct.payload["user"]["id"] == 42, struct.payload
    assert struct.payload["ok"] is True, struct.payload
    assert struct.severity == "ERROR", struct.severity
    assert plain.payload == "plain default"

    # The query language, through the client: severity by rank, jsonPayload fields, the
    # original system's resource query.
    def ids(filter_):
        return [
            e.insert_id
            for e in client.list_entries(
                resource_names=[f"projects/{project}"],
                filter_=f'labels.run="{run}" AND ({filter_})' if filter_ else f'labels.run="{run}"',
                order_by=cloud_logging.ASCENDING,
            )
        ]

    assert ids("severity>=WARNING") == [text.insert_id, struct.insert_id]
    assert ids("jsonPayload.user.name=\"ann\"") == [struct.insert_id]
    assert ids('resource.type="container" resource.labels.cluster_name="fastapi-cluster"') == [
        text.insert_id,
        struct.insert_id,
        plain.insert_id,
    ]
    assert ids('"structured hello"') == [struct.insert_id]

    # Newest first, and paging with a small page size.
    newest = list(
        client.list_entries(
            resource_names=[f"projects/{project}"],
            filter_=f'labels.run="{run}"',
            order_by=cloud_logging.DESCENDING,
            page_size=1,
        )
    )
    assert [e.insert_id for e in newest] == [plain.insert_id, struct.insert_id, text.insert_id]

    # A batch, then logs.list and logs.delete.
    batch = logger.batch()
    for i in range(5):
        batch.log_text(f"batched {i}", resource=resource, labels={"run": run})
    batch.commit()
    assert len(ids("textPayload:batched")) == 5
    # The HTTP client has no list_logs helper; call logs.list through its connection.
    names = client._connection.api_request(method="GET", path=f"/projects/{project}/logs")
    assert f"projects/{project}/logs/{log_id}" in names["logNames"], names
    logger.delete()
    assert ids("") == []
    print("python client: ok")


if __name__ == "__main__":
    main(sys.argv[1])
