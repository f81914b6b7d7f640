# tsd-server in a container: multi-stage, runs as its own unprivileged user, data
# in a volume, a health check that asks the server itself.
#
# NOT BUILT HERE: the machines this project is developed and tested on have no
# Docker engine. What is built and tested is the Debian package (scripts/deb.sh,
# scripts/test-deb.sh), which runs the same binary under systemd.
#
#   docker build -t tsd-server .
#   docker run -d --name tsd -p 8480:8480 -v tsd-data:/var/lib/tsd-server tsd-server
#   docker exec tsd tsd-server device add ТСД-1 --qr --url http://HOST:8480
#
# TLS: terminate it in front (a reverse proxy), or mount a certificate and set
# TSD_TLS_CERT/TSD_TLS_KEY (then `tsd-server health`, plain HTTP, cannot ask:
# replace the HEALTHCHECK with a client that trusts the certificate).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p tsd-server \
 && strip --strip-all -o /tsd-server target/release/tsd-server

FROM debian:bookworm-slim
RUN useradd --system --user-group --home-dir /var/lib/tsd-server --shell /usr/sbin/nologin tsd-server \
 && install -d -o tsd-server -g tsd-server -m 0750 /var/lib/tsd-server
COPY --from=build /tsd-server /usr/bin/tsd-server
USER tsd-server
WORKDIR /var/lib/tsd-server
ENV TSD_SERVER_DATA=/var/lib/tsd-server \
    TSD_LISTEN=0.0.0.0:8480
VOLUME ["/var/lib/tsd-server"]
EXPOSE 8480
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/bin/tsd-server", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tsd-server"]
CMD ["serve"]
