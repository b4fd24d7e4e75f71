#!/usr/bin/env bash
# Make a private PostgreSQL server available for the tests and print its SQLAlchemy URL on stdout:
#   export DANGAN_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)"
# Idempotent and fast when already running. On a fresh Debian/Ubuntu machine it apt-installs
# PostgreSQL, creates a cluster of its own (not the distribution's "main" one) under $DANGAN_PG_DIR
# (default /tmp/dangan-pg-<uid>), listening on 127.0.0.1 only with a generated password, starts it
# and creates the database. As root, the server runs as the "postgres" system user (the server
# refuses to run as root). Test-only tuning: fsync off — never point it at data you want to keep.
#   bash scripts/postgres.sh stop      stops that server
# Environment: DANGAN_PG_DIR, DANGAN_PG_PORT (preferred port, default 54329), DANGAN_PG_DB (dangan_test).
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

uid="$(id -u)"
BASE="${DANGAN_PG_DIR:-${TMPDIR:-/tmp}/dangan-pg-$uid}"
DATA="$BASE/data"
DB="${DANGAN_PG_DB:-dangan_test}"
ROLE="dangan"
PREFERRED_PORT="${DANGAN_PG_PORT:-54329}"

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return 0
  fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"; return 0
  fi
  return 1
}

BIN="$(find_bindir || true)"
if [ -z "$BIN" ]; then
  command -v apt-get >/dev/null 2>&1 || { log "PostgreSQL is not installed and apt-get is unavailable"; exit 1; }
  SUDO=""; [ "$uid" -eq 0 ] || SUDO="sudo"
  log "installing PostgreSQL (apt)"
  $SUDO apt-get update -qq >/dev/null
  # postgresql-common would create and start the distribution's own cluster: not needed, not harmful.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BIN="$(find_bindir)" || { log "PostgreSQL installed but initdb/pg_ctl not found"; exit 1; }
fi

# Who runs the server: ourselves, or (as root) an unprivileged system user.
as_owner() { "$@"; }
if [ "$uid" -eq 0 ]; then
  OWNER=postgres
  if ! id -u "$OWNER" >/dev/null 2>&1; then
    useradd --system --home-dir "$BASE" --shell /usr/sbin/nologin "$OWNER"
  fi
  if command -v runuser >/dev/null 2>&1; then
    as_owner() { runuser -u "$OWNER" -- "$@"; }
  else
    as_owner() { su -s /bin/sh "$OWNER" -c "$(printf '%q ' "$@")"; }
  fi
fi

mkdir -p "$BASE"
cd "$BASE"  # the server user may not be able to read the caller's working directory
if [ "$uid" -eq 0 ]; then chown "$OWNER" "$BASE"; fi
chmod 700 "$BASE"

# One invocation at a time (parallel test jobs may call this simultaneously).
exec 9>"$BASE/lock"
command -v flock >/dev/null 2>&1 && flock 9

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [ "${1:-}" = "stop" ]; then
  [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null && log "stopped"
  exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating a cluster in $DATA"
  rm -rf "$DATA"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$BASE/password"
  chmod 600 "$BASE/password"
  [ "$uid" -eq 0 ] && chown "$OWNER" "$BASE/password"
  as_owner "$BIN/initdb" -D "$DATA" -U "$ROLE" --pwfile="$BASE/password" --auth=scram-sha-256 \
    -E UTF8 --locale=C >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; exit 1; }
  cat >>"$DATA/postgresql.conf" <<EOF
# --- dangan test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DATA'
max_connections = 100
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi
PASSWORD="$(cat "$BASE/password")"

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  port="$(cat "$BASE/port" 2>/dev/null || echo "$PREFERRED_PORT")"
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port" > "$BASE/port"
  log "starting the server on 127.0.0.1:$port"
  # 9>&-: the server must not inherit the lock, or the next invocation would wait for it forever.
  as_owner "$BIN/pg_ctl" -D "$DATA" -o "-p $port" -l "$BASE/server.log" -w -t 60 start >/dev/null 9>&- \
    || { tail -n 30 "$BASE/server.log" >&2; exit 1; }
fi
PORT="$(cat "$BASE/port")"

export PGPASSWORD="$PASSWORD"
psql_() { "$BIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -U "$ROLE" -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  psql_ -d postgres -c "CREATE DATABASE \"$DB\"" >/dev/null
fi

echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"
