# A static Sesame binary on a minimal base image.
#   docker build -t sesame .
#   docker run -p 8080:8080 -v sesame-data:/data \
#     -e SESAME_URL=https://login.example.com sesame
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc.org/sqlite is pure Go, so the binary needs no libc.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/sesame ./cmd/sesame \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sesame /usr/local/bin/sesame
# The data volume must belong to the unprivileged user Sesame runs as.
COPY --from=build --chown=65532:65532 /out/data /data
ENV SESAME_DATA_DIR=/data \
    SESAME_LISTEN=0.0.0.0:8080 \
    SESAME_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/sesame"]
CMD ["serve"]
