# One image for every argo-eci role: webhook, executor plugin sidecar, artifact plugin.
# Non-root, static, read-only-root friendly (/tmp is the only writable path the artifact plugin needs).
#
# Both base images are pinned by digest: a tag can be moved to other content by whoever controls it,
# a digest cannot. To move to newer bases, look up the digest of the tag you want
# (`crane digest IMAGE` or `docker buildx imagetools inspect IMAGE`) and pass it, e.g.
#   docker build \
#     --build-arg GO_IMAGE=golang:1.26.3@sha256:<digest> \
#     --build-arg BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:<digest> \
#     --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
# `argo-eci version` and the image labels then name the exact source.
ARG GO_IMAGE=golang:1.26.3@sha256:313faae491b410a35402c05d35e7518ae99103d957308e940e1ae2cfa0aac29b
ARG BASE_IMAGE=gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/argo-eci ./cmd/argo-eci

FROM ${BASE_IMAGE}
ARG VERSION=dev
ARG COMMIT=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="argo-eci" \
      org.opencontainers.image.description="Argo Workflows on Alibaba Cloud ECI: admission webhook, executor plugin, OSS artifact plugin" \
      org.opencontainers.image.source="https://github.com/argo-eci/argo-eci" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /out/argo-eci /usr/local/bin/argo-eci
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/argo-eci"]
