# DeskRinger API: build with the Rust image, run the single binary on slim Debian as a
# non-root user. Builds without a database: queries checked at compile time read the
# committed `.sqlx/` cache (SQLX_OFFLINE), and migrations are embedded in the binary.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# aws-lc-sys (the TLS crypto) builds C code. Package versions follow the base image's
# Debian release: a pinned version disappears from the mirror at its next security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang \
    && rm -rf /var/lib/apt/lists/*
ENV SQLX_OFFLINE=true
COPY Cargo.toml Cargo.lock build.rs ./
COPY .sqlx ./.sqlx
COPY src ./src
COPY migrations ./migrations
# The web app's files are compiled into the release binary (rust-embed).
COPY web ./web
RUN cargo build --release --locked --bin deskringer \
    && strip target/release/deskringer

FROM debian:bookworm-slim
# CA certificates for HTTPS to OpenAI, Twilio, Stripe, SendGrid and PostgreSQL over TLS.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin deskringer
COPY --from=build /src/target/release/deskringer /usr/local/bin/deskringer
# By number, so the host and orchestrators (runAsNonRoot) can tell it is not root.
USER 10001
ENV APP_ENV=production \
    PORT=5000 \
    RUST_LOG_FORMAT=json
EXPOSE 5000
# `deskringer migrate` is the release step; `serve` also applies pending migrations safely.
CMD ["deskringer", "serve"]
