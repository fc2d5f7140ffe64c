# syntax=docker/dockerfile:1.7
# One image for the whole platform: the `ec` binary and the storefront's build. Each container runs one part:
#
#   ec serve user | product | order | bff | web      a service, the BFF, or the storefront
#   ec migrate                                       every schema's migrations, then exit (a one-shot job)
#   ec check-health <url>                            the container's health check
#
#   docker build -t ec .            (deploy/compose.yaml and deploy/k8s use this image)
#
# Stages: `web` builds the storefront; `planner` and `build` compile `ec` in release mode, with the dependencies
# compiled in a layer of their own (cargo-chef) so that a change to our code does not rebuild them; `runtime` is
# distroless (glibc, CA certificates, no shell) and runs as an unprivileged user.

ARG RUST_VERSION=1.95.0
ARG NODE_VERSION=20.20.2

FROM node:${NODE_VERSION}-bookworm-slim AS web
WORKDIR /src
COPY buf.yaml ./
COPY proto ./proto
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web ./
RUN npm run build

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
# cargo-chef records the dependency graph and builds it alone, so that layer is cached.
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --package ec-cli --bin ec
COPY . .
RUN cargo build --release --locked --package ec-cli --bin ec \
    && install -D -m 0755 target/release/ec /out/ec \
    && mkdir -p /out/media

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
COPY --from=build /out/ec /usr/local/bin/ec
COPY --from=web /src/web/dist /srv/web
# Where a volume of uploaded pictures is mounted (Compose's MEDIA_STORE): owned by the user the processes run
# as, which a new volume inherits.
COPY --from=build --chown=65532:65532 /out/media /var/lib/ec/media
# Containers bind every port on all interfaces (the defaults are loopback, for laptops), log JSON lines and
# refuse the development stand-ins.
ENV EC_ENV=production \
    LOG_FORMAT=json \
    WEB_DIR=/srv/web \
    USER_ADDR=0.0.0.0:50051 \
    PRODUCT_ADDR=0.0.0.0:50052 \
    ORDER_ADDR=0.0.0.0:50053 \
    BFF_ADDR=0.0.0.0:8080 \
    OPS_ADDR=0.0.0.0:8090 \
    LOGIN_ADDR=0.0.0.0:8051 \
    WEB_ADDR=0.0.0.0:5173
# distroless's `nonroot` user, by number so Kubernetes can check runAsNonRoot.
USER 65532:65532
EXPOSE 8080 8090 50051 50052 50053 8051 5173
ENTRYPOINT ["/usr/local/bin/ec"]
CMD ["--help"]
