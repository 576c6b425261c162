# ses-proxy container: build with the project's own scripts, run slim.
#   docker build -t ses-proxy .   (podman build --format docker: the OCI
#                                  format has no HEALTHCHECK)
#   docker run -p 127.0.0.1:8080:8080 --stop-timeout 30 -e AWS_REGION=eu-west-1 \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     -v /path/to/ses-proxy.json:/etc/ses-proxy/ses-proxy.json:ro ses-proxy
# README.md ("Container image") has the rest; scripts/image-test.sh builds
# and checks it.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWERROR=ON \
 && cmake --build build -j"$(nproc)" --target ses-proxy \
 && strip build/ses-proxy

FROM debian:12-slim
# Only the shared libraries the binary links (libevent_core, _extra and
# _openssl; not the all-in-one libevent-2.1), and the CA certificates that
# verify SES's TLS certificate (ca-certificates brings openssl, whose
# /usr/lib/ssl links are where libssl looks for them by default). The user
# and its group are both 10001, the ids USER below and the Kubernetes
# manifest name.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      ca-certificates libevent-core-2.1-7 libevent-extra-2.1-7 libevent-openssl-2.1-7 \
      libssl3 libjansson4 libexpat1 libhiredis0.14 libsqlite3-0 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 ses-proxy \
 && useradd --uid 10001 --gid 10001 --no-create-home --no-log-init \
      --home-dir /nonexistent --shell /usr/sbin/nologin ses-proxy
COPY --from=build /src/build/ses-proxy /usr/local/bin/ses-proxy
# The image's default config listens on all interfaces (the container's
# network namespace is the boundary) and allows the pod/task's private
# ranges; mount your own at the same path to change it.
COPY conf/container.json /etc/ses-proxy/ses-proxy.json
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3 | grep -q ' 200'"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ses-proxy"]
CMD ["--config", "/etc/ses-proxy/ses-proxy.json"]
