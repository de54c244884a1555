# syntax=docker/dockerfile:1
# Multi-stage build: compile with the full toolchain, run on a minimal
# non-root image that holds only the binary and its configuration overlays.
#
#   docker build -t latch .
#   docker run -p 8080:8080 \
#     -e LATCH__DATABASE__URL=postgres://latch:secret@db/latch \
#     -e LATCH__KEYS__MASTER_KEY="$(latch keys new-master-key)" \
#     -e LATCH__HTTP__PUBLIC_URL=https://auth.example.com \
#     latch
#
# Give every instance the same master key (from a secret store in practice):
# it seals the shared signing keys in the database.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The crate registry and the target directory live in BuildKit cache mounts:
# a rebuild after a source change recompiles Latch's crates, not its dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p latch --bin latch \
    && cp target/release/latch /latch

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /latch /usr/local/bin/latch
COPY config /etc/latch/config
ENV LATCH_ENV=production \
    LATCH_CONFIG_DIR=/etc/latch/config \
    LATCH__HTTP__HOST=0.0.0.0 \
    LATCH__DATA_DIR=/tmp/latch
# distroless's nonroot user, by number: Kubernetes' runAsNonRoot (see
# deploy/kubernetes) can only verify a numeric user, and refuses to start a
# container whose image gives a name.
USER 65532:65532
EXPOSE 8080
# The binary checks itself: the image has no shell and no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/latch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
