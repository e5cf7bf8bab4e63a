# syntax=docker/dockerfile:1
# Multi-stage build: compile in the official Rust image, run in a slim Debian image.
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

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home aimock
COPY --from=build /src/target/release/aimock /usr/local/bin/aimock
COPY cassettes /cassettes
USER aimock
EXPOSE 4010
ENTRYPOINT ["aimock"]
CMD ["replay", "--host", "0.0.0.0", "--cassettes", "/cassettes"]
