# A stand-in for the official node:24-bookworm-slim, for machines that cannot pull from Docker
# Hub. deploy/container-check.sh builds it (see local_base_image there):
#
#   DEBIAN_IMAGE  a Debian 12 root filesystem imported with `docker import` (debootstrap minbase)
#   context       usr/local/  Node.js from the npm registry package node-linux-<arch> plus npm,
#                             installed with `npm i -g --prefix <context>/usr/local`
#                 ca-certificates.crt  the build host's CA bundle
#
# What the Dockerfile relies on matches the official image: node and npm on PATH, a `node` user
# and group with uid/gid 1000, a Debian userland with `sh`.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
ARG NODE_VERSION
COPY usr/local/ /usr/local/
# The host's bundle, so npm reaches the registry through the same (possibly TLS-inspecting) proxy
# as the host, and the apps trust what the host trusts.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV NODE_VERSION=${NODE_VERSION} \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
CMD ["node"]
