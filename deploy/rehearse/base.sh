#!/bin/sh
# A base image made from Debian's own packages, for machines that reach Debian's archive but no image
# registry: debootstrap a minimal bookworm (CPython 3.11 with venv, ca-certificates), add this machine's
# trust store (it may hold a proxy's CA that pip and uv inside the build must trust), import it into Docker.
#   deploy/rehearse/base.sh [TAG]     (default minzheng-base:bookworm; kept, so later runs take seconds)
set -eu
tag=${1:-minzheng-base:bookworm}
if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "base image $tag is there"
    exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
root=$(mktemp -d /var/tmp/minzheng-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "debootstrap bookworm into $root …"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror" >/dev/null
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    - "$tag" >/dev/null
echo "base image $tag made"
