# syntax=docker/dockerfile:1
# Multi-stage build: compile in the official Rust image, run on distroless "cc" (glibc
# and libgcc only: no shell, no package manager, no curl). The binary links just
# libc, libm and libgcc_s, and stays on glibc's allocator, the one the benchmark
# figures were measured with (musl's would make a static scratch image, but slower).
# Usage:
#   docker build -t aimock .
#   docker run --rm -p 4010:4010 -v "$PWD/cassettes:/cassettes:ro" aimock

FROM rust:1-bookworm AS build
WORKDIR /src
# Build dependencies first so source edits do not refetch and rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
# Make sure cargo sees the real sources as newer than the placeholder build.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip target/release/aimock

FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/target/release/aimock /usr/local/bin/aimock
COPY cassettes /cassettes
# Not root; the same uid as before, so volumes prepared for it stay readable.
USER 10001:10001
EXPOSE 4010
# `aimock health` GETs /health on loopback (port AIMOCK_PORT, default 4010) and exits
# 0 on a 200: a health check without curl or a shell in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/aimock", "health"]
ENTRYPOINT ["/usr/local/bin/aimock"]
CMD ["replay", "--host", "0.0.0.0", "--cassettes", "/cassettes"]
