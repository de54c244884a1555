# Multi-stage build: compile with the full toolchain, run on a minimal
# non-root image that holds only the binary and its configuration overlays.
#
#   docker build -t latch .
#   docker run -p 8080:8080 \
#     -e LATCH__DATABASE__URL=postgres://latch:secret@db/latch \
#     -e LATCH__TOKENS__EDDSA_PRIVATE_KEY_PATH=/run/secrets/latch-ed25519.pem \
#     -v ./ed25519.pem:/run/secrets/latch-ed25519.pem:ro latch

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p latch

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/latch /usr/local/bin/latch
COPY config /etc/latch/config
ENV LATCH_ENV=production \
    LATCH_CONFIG_DIR=/etc/latch/config \
    LATCH__HTTP__HOST=0.0.0.0 \
    LATCH__DATA_DIR=/tmp/latch
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/latch"]
CMD ["serve"]
