#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the tests and print its URL (stdout only).
#   eval "export XUNQIN_TEST_PG_URL=$(scripts/ci_postgres.sh)"
# Installs the server with apt-get when it is missing (needs root). Idempotent: a server already
# running in $XUNQIN_PG_DIR is reused. Trust authentication on 127.0.0.1 only: test use, not production.
set -euo pipefail

PGDIR="${XUNQIN_PG_DIR:-/tmp/xunqin-pg}"
PORT="${XUNQIN_PG_PORT:-54329}"
URL="postgresql://postgres@127.0.0.1:${PORT}/postgres"
log() { echo "ci_postgres: $*" >&2; }

find_bin() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
    return 1
}

BIN="$(find_bin || true)"
if [ -z "$BIN" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL server binaries not found and not root: install postgresql"; exit 1
    fi
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    BIN="$(find_bin)"
fi

# initdb/postgres refuse to run as root: run them as the postgres user then.
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PGDIR" postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

mkdir -p "$PGDIR"
[ "$(id -u)" -eq 0 ] && chown postgres "$PGDIR"

if as_pg "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    log "already running in $PGDIR"
else
    if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
        as_pg "$BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2 \
            || as_pg "$BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >&2
    fi
    as_pg "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
fi

for _ in $(seq 1 60); do
    "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q && { echo "$URL"; exit 0; }
    sleep 0.5
done
log "server did not become ready; see $PGDIR/server.log"
exit 1
