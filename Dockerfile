# Catfish container image: one static binary on an empty base.
#   docker build --build-arg VERSION=v1.2.3 -t catfish .
# Or, with docker-compose.yml beside it: cp example.env .env && docker compose up -d

# --- build: a static binary (no cgo), version stamped in -----------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/catfish . \
 && mkdir -p /out/data

# --- run: the binary, CA certificates for https upstreams, /data ---------
# Time zones are embedded in the binary (time/tzdata), so TZ works here.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/catfish /catfish
# /data belongs to the runtime user, so a new named volume mounted there
# starts out writable (Docker copies the image's ownership into it).
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV DATA_DIR=/data PORT=8080
VOLUME /data
EXPOSE 8080
# Exec form: there is no shell or curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/catfish", "healthcheck"]
ENTRYPOINT ["/catfish"]
