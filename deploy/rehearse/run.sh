#!/usr/bin/env bash
# The production rehearsal in real containers (./dev rehearse): build the five images, run docker-compose.yml
# as ops would (ENV=production, PostgreSQL, Redis, a migration job per service, bootstrap, four services, their
# workers and the gateway), smoke-test through the gateway (deploy/rehearse/smoke.py), then remove it all.
#
# Where no image registry can be reached, the images start from a base made of Debian's packages
# (deploy/rehearse/base.sh) and compose reads deploy/rehearse/compose.yml on top of docker-compose.yml.
# What it needs and installs when missing (as root, from Debian's archive): docker.io and debootstrap; the
# compose v2 plugin (bookworm's docker-compose is v1, which cannot read the compose spec's top-level `name`).
#   REHEARSE_KEEP=1 ./dev rehearse    leave the containers running afterwards (docker compose -p minzheng-rehearse down -v)
set -euo pipefail
cd "$(dirname "$0")/../.."

project=minzheng-rehearse
work=var/rehearse
mkdir -p "$work"
started=$(date +%s)
say() { echo "rehearse [$(( $(date +%s) - started )) s] $*"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "rehearse: $1 is missing and only root can install it here" >&2
        exit 1
    fi
}

ensure_engine() {
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
        need_root "docker.io or debootstrap"
        say "installing docker.io and debootstrap from Debian's archive …"
        DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -q docker.io debootstrap >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
        need_root "a running Docker engine"
        say "starting dockerd (log: $work/dockerd.log) …"
        nohup dockerd >"$work/dockerd.log" 2>&1 &
        for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
        if ! docker info >/dev/null 2>&1; then
            echo "rehearse: dockerd did not start; its log:" >&2
            tail -20 "$work/dockerd.log" >&2
            exit 1
        fi
    fi
    if ! docker compose version >/dev/null 2>&1; then
        need_root "the compose v2 plugin"
        say "fetching the compose v2 plugin (Debian trixie's docker-compose package) …"
        local apt_dir="$work/apt-trixie"
        mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/deb"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${DEBIAN_MIRROR:-http://deb.debian.org/debian} trixie main" \
            >"$apt_dir/sources.list"
        local apt_opts=(-o "Dir::Etc::SourceList=$PWD/$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$PWD/$apt_dir/lists" -o "Dir::Cache=$PWD/$apt_dir/cache" -o APT::Sandbox::User=root)
        apt-get "${apt_opts[@]}" update -q >/dev/null
        (cd "$apt_dir/deb" && apt-get "${apt_opts[@]}" download -q docker-compose >/dev/null)
        dpkg-deb -x "$apt_dir"/deb/docker-compose_*.deb "$apt_dir/root"
        mkdir -p /usr/local/lib/docker/cli-plugins
        install -m 0755 "$apt_dir/root/usr/libexec/docker/cli-plugins/docker-compose" /usr/local/lib/docker/cli-plugins/
        docker compose version >/dev/null
    fi
}

ensure_engine
say "$(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /')"

if [ -n "${REHEARSE_BASE:-}" ]; then
    say "base image: $REHEARSE_BASE (given)"
else
    deploy/rehearse/base.sh minzheng-base:bookworm
fi

# Fresh secrets for this run only, in an env file compose reads (never printed, removed at the end).
env_file="$work/.env"
umask 077
{
    for key in IDENTITY_SECRET GATEWAY_TOKEN_SECRET ELDERCARE_CLIENT_SECRET ASSISTANCE_CLIENT_SECRET \
        CHARITY_CLIENT_SECRET PLACENAMES_CLIENT_SECRET; do
        echo "$key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done
    echo "PII_KEYS={\"r1\":\"$(head -c 32 /dev/urandom | base64)\"}"
    echo "PII_INDEX_KEY=$(head -c 32 /dev/urandom | base64)"
    echo "POSTGRES_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "BOOTSTRAP_ADMIN=ops-admin"
    echo "BOOTSTRAP_ADMIN_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "GATEWAY_PUBLISH=${REHEARSE_PORT:-18000}"
    echo "TAG=rehearse"
} >"$env_file"
umask 022

compose=(docker compose -p "$project" --env-file "$env_file" -f docker-compose.yml -f deploy/rehearse/compose.yml)
cleanup() {
    status=$?
    if [ $status -ne 0 ]; then
        echo "rehearse: failed; the containers' state and the last log lines:" >&2
        "${compose[@]}" ps -a >&2 || true
        "${compose[@]}" logs --tail 30 >&2 || true
    fi
    if [ -z "${REHEARSE_KEEP:-}" ]; then
        "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
        rm -f "$env_file"
    fi
    exit $status
}
trap cleanup EXIT

say "building the images …"
"${compose[@]}" build -q
say "starting: migrations, bootstrap, services, workers, gateway …"
"${compose[@]}" up -d --quiet-pull
.venv/bin/python deploy/rehearse/smoke.py "http://127.0.0.1:${REHEARSE_PORT:-18000}" "$env_file" "${compose[@]}"
say "passed"
