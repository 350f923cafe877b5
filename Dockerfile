# One image for every argo-eci role: webhook, executor plugin sidecar, artifact plugin.
# Non-root, static, read-only-root friendly (/tmp is the only writable path the artifact plugin needs).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/argo-eci ./cmd/argo-eci

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/argo-eci /usr/local/bin/argo-eci
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/argo-eci"]
