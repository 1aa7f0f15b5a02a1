# syntax=docker/dockerfile:1.7
# logferry: the log-shipping sidecar (also runs the Cloud Logging emulator: `logferry emulator`).
# Build from the repository root:
#   docker build -f deploy/docker/logferry.Dockerfile -t logferry .
# The builder is pinned (same toolchain as CI); the runtime is distroless: glibc, CA
# certificates for TLS to Google, a non-root user (65532), and no shell or package manager.
# The binary is stripped (the release profile keeps line tables: 62 MB -> 11 MB for logferry).
#
# Layers for caching: the `deps` stage compiles every dependency from the manifests and
# Cargo.lock alone (deploy/docker/dependency-stubs.sh), so it is rebuilt only when they change.
# Cloud Build pushes that stage as its own image (`logferry-deps`) and pulls it with
# --cache-from on the next build (deploy/cloudbuild.yml); the final image alone would not carry
# it, as BuildKit's inline cache holds only the layers of the image it is attached to.

FROM docker.io/library/rust:1.95-bookworm AS manifests
WORKDIR /src
COPY . .
RUN sh deploy/docker/dependency-stubs.sh . /stubs

FROM docker.io/library/rust:1.95-bookworm AS deps
WORKDIR /src
# Identical bytes whenever the manifests are: this COPY and the build below are cache hits.
COPY --from=manifests /stubs ./
RUN cargo build --release --locked -p logferry

FROM deps AS build
RUN rm -rf crates bench
COPY . .
# The same command CI builds with (scripts/check-deploy.sh checks it). Touching the sources makes
# cargo rebuild the workspace's own crates even when the checkout is older than the stubs' build.
RUN find crates bench -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p logferry \
 && install -D -s -m 0755 target/release/logferry /out/logferry

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/logferry /usr/local/bin/logferry
# No shell in the image; deployment-classic.yaml's preStop hook sleeps with this one binary.
COPY --from=build /usr/bin/sleep /usr/bin/sleep
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/logferry"]
EXPOSE 24231
