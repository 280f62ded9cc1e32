# PostgreSQL for the rehearsal, from Debian's packages on the same base (no image registry needed). It does
# what the compose file asks of the official image: POSTGRES_PASSWORD, the init scripts in
# /docker-entrypoint-initdb.d on the first start, data in /var/lib/postgresql/data, pg_isready.
ARG BASE_IMAGE=minzheng-base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update -q && apt-get install -y -q --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /var/lib/postgresql/data /run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
USER postgres
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
