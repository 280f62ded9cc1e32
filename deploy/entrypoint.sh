#!/bin/sh
# Entrypoint of every image of the suite. SERVICE (set at build time) says which process this is.
#   entrypoint.sh [serve]        run the process (the default)
#   entrypoint.sh migrate        upgrade this service's database to head, then exit
#   entrypoint.sh bootstrap [..] (gateway) the first city administrator and each service's client, once
#                                (python -m services.manage bootstrap; deploy/README.md)
#   entrypoint.sh worker         run this service's worker process (its jobs and schedules; not the gateway)
#   entrypoint.sh probe PATH     exit 0 if GET PATH on this process answers 2xx (health checks)
#   entrypoint.sh probe-worker   exit 0 if the worker's heartbeat file was touched in the last 90 s
#   entrypoint.sh CMD [ARG...]   run anything else, e.g. python -m services.manage seed eldercare
set -eu

# The probe needs the port; defaults mirror each process's settings.
case "${SERVICE:-}" in
    eldercare)  port=${ELDERCARE_PORT:-8001} ;;
    assistance) port=${ASSISTANCE_PORT:-8002} ;;
    charity)    port=${CHARITY_PORT:-8003} ;;
    placenames) port=${PLACENAMES_PORT:-8004} ;;
    gateway)    port=${GATEWAY_PORT:-8000} ;;
    *)
        echo "entrypoint: SERVICE must be eldercare, assistance, charity, placenames or gateway (got '${SERVICE:-}')" >&2
        exit 64 ;;
esac

case "${1:-serve}" in
    serve)
        # exec: python becomes PID 1 and gets SIGTERM itself, so uvicorn shuts down gracefully.
        if [ "$SERVICE" = gateway ]; then
            exec python -m gateway
        fi
        exec python -m "services.$SERVICE" ;;
    worker)
        exec python -m "services.$SERVICE.worker" ;;
    probe-worker)
        # The worker touches the file at each turn of its loop and at each lease renewal of a running job.
        exec python -c '
import os, sys, time
path = os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/worker-heartbeat")
try:
    age = time.time() - os.stat(path).st_mtime
except OSError as exc:
    sys.exit(f"no heartbeat: {exc}")
sys.exit(0 if age < 90 else f"heartbeat {age:.0f} s old")
' ;;
    migrate)
        # The gateway has a database too (sign-in, clients, refresh tokens).
        exec python -m services.manage migrate "$SERVICE" ;;
    bootstrap)
        if [ "$SERVICE" != gateway ]; then
            echo "entrypoint: bootstrap runs in the gateway's image (it writes the gateway's database)" >&2
            exit 64
        fi
        shift
        exec python -m services.manage bootstrap "$@" ;;
    probe)
        # urllib: the slim image has no curl, and python is there anyway. Non-2xx raises, exit 1.
        exec python -c '
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=4)
except Exception as exc:
    sys.exit(f"unhealthy: {sys.argv[1]}: {exc}")
' "http://127.0.0.1:${port}${2:-/healthz}" ;;
    *)
        exec "$@" ;;
esac
