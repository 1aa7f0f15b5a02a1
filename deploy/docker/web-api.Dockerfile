# syntax=docker/dockerfile:1.7
# web-api: the example API whose log file the logferry sidecar ships.
# Build from the repository root:
#   docker build -f deploy/docker/web-api.Dockerfile -t web-api .
# The builder is pinned (same toolchain as CI); the runtime is distroless: glibc, CA
# certificates for TLS to Google, a non-root user (65532), and no shell or package manager.
# The binary is stripped (the release profile keeps line tables: 14 MB -> 2.3 MB).
#
# Layers for caching: the `deps` stage compiles every dependency from the manifests and
# Cargo.lock alone (deploy/docker/dependency-stubs.sh), so it is rebuilt only when they change.
# Cloud Build pushes that stage as its own image (`web-api-deps`) and pulls it with --cache-from
# on the next build (deploy/cloudbuild.yml).

FROM docker.io/library/rust:1.95-bookworm AS manifests
WORKDIR /src
COPY . .
RUN sh deploy/docker/dependency-stubs.sh . /stubs

FROM docker.io/library/rust:1.95-bookworm AS deps
WORKDIR /src
# Identical bytes whenever the manifests are: this COPY and the build below are cache hits.
COPY --from=manifests /stubs ./
RUN cargo build --release --locked -p web-api

FROM deps AS build
RUN rm -rf crates bench
COPY . .
# The same command CI builds with (scripts/check-deploy.sh checks it). Touching the sources makes
# cargo rebuild the workspace's own crates even when the checkout is older than the stubs' build.
RUN find crates bench -name '*.rs' -exec touch {} + \
 && cargo build --release --locked -p web-api \
 && install -D -s -m 0755 target/release/web-api /out/web-api

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/web-api /usr/local/bin/web-api
# No shell in the image; the preStop hook (deploy/k8s) waits with this one binary.
COPY --from=build /usr/bin/sleep /usr/bin/sleep
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/web-api"]
EXPOSE 5000
