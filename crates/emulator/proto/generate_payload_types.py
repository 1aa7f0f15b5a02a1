"""Writes payload_types.binpb: the descriptors of the message types the emulator accepts as a
LogEntry's protoPayload, so it can turn them from protobuf into JSON and back.

The descriptors are Google's own, Apache-2.0 (see NOTICE), taken from the generated Python
modules that Google's packages ship (google-cloud-logging depends on both):

    pip install google-cloud-audit-log google-cloud-appengine-logging
    python3 crates/emulator/proto/generate_payload_types.py

Nothing runs this at build time; the output is committed.
"""

import os

from google.protobuf import descriptor_pb2
from google.protobuf import any_pb2, duration_pb2, empty_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from google.cloud.audit import audit_log_pb2
from google.cloud.appengine_logging_v1.types import RequestLog

ROOTS = [
    any_pb2, duration_pb2, empty_pb2, struct_pb2, timestamp_pb2, wrappers_pb2,
    audit_log_pb2,
]


def main() -> None:
    out = descriptor_pb2.FileDescriptorSet()
    seen = set()

    def add(file_descriptor) -> None:
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for dependency in file_descriptor.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file_descriptor.CopyToProto(proto)
        # Options (go_package, java_package...) are of no use here and only add bytes.
        proto.ClearField("options")
        proto.ClearField("source_code_info")
        out.file.append(proto)

    for module in ROOTS:
        add(module.DESCRIPTOR)
    # google-cloud-appengine-logging is proto-plus; its protobuf class carries the descriptor.
    add(RequestLog.pb().DESCRIPTOR.file)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "payload_types.binpb")
    with open(path, "wb") as f:
        f.write(out.SerializeToString(deterministic=True))
    print(f"{path}: {len(out.file)} files: " + ", ".join(f.name for f in out.file))


if __name__ == "__main__":
    main()
