# syntax=docker/dockerfile:1.7
# logferry: the log-shipping sidecar (also runs the Cloud Logging emulator: `logferry emulator`).
# Build from the repository root:
#   docker build -f deploy/docker/logferry.Dockerfile -t logferry .
# The builder is pinned (same toolchain as CI); the runtime is distroless: glibc, CA
# certificates for TLS to Google, a non-root user (65532), and no shell or package manager.
# The binary is stripped (the release profile keeps line tables: 62 MB -> 11 MB for logferry).

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The same command CI builds with (scripts/check-deploy.sh checks it). Cache mounts keep the
# registry and target dir between local builds; Cloud Build reuses layers via --cache-from.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p logferry \
 && install -D -s -m 0755 target/release/logferry /out/logferry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/logferry /usr/local/bin/logferry
# No shell in the image; deployment-classic.yaml's preStop hook sleeps with this one binary.
COPY --from=build /usr/bin/sleep /usr/bin/sleep
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/logferry"]
EXPOSE 24231
