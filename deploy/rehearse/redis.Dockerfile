# Redis for the rehearsal, from Debian's packages on the same base. It keeps nothing on disk, like the suite's
# use of it (rate-limit buckets).
ARG BASE_IMAGE=minzheng-base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
