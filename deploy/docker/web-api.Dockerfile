# syntax=docker/dockerfile:1.7
# web-api: the example API whose log file the logferry sidecar ships.
# Build from the repository root:
#   docker build -f deploy/docker/web-api.Dockerfile -t web-api .
# The builder is pinned (same toolchain as CI); the runtime is distroless: glibc, CA
# certificates for TLS to Google, a non-root user (65532), and no shell or package manager.
# The binary is stripped (the release profile keeps line tables: 14 MB -> 2.3 MB).

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The same command CI builds with (scripts/check-deploy.sh checks it). Cache mounts keep the
# registry and target dir between local builds; Cloud Build reuses layers via --cache-from.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p web-api \
 && install -D -s -m 0755 target/release/web-api /out/web-api

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/web-api /usr/local/bin/web-api
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/web-api"]
EXPOSE 5000
