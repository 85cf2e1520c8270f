#!/usr/bin/env bash
# Local services the tests use: PostgreSQL 127.0.0.1:5432 (required), MariaDB 127.0.0.1:3306
# and Redis 127.0.0.1:6379 (optional). Usage: scripts/services.sh [start|status]
set -euo pipefail

WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-30}"

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

wait_port() {
  local port="$1" deadline=$((SECONDS + WAIT_SECONDS))
  until port_open "$port"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

start_postgres() {
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$version" ] || { echo "no cluster under /etc/postgresql" >&2; return 1; }
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

start_mariadb() {
  # /run is often a fresh tmpfs; mariadbd cannot create its socket directory itself.
  if [ ! -d /run/mysqld ] && id mysql >/dev/null 2>&1; then
    install -d -o mysql -g mysql /run/mysqld
  fi
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
}

start_redis() {
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no >/dev/null
}

# ensure NAME PORT START_FN REQUIRED
ensure() {
  local name="$1" port="$2" start_fn="$3" required="$4"
  if port_open "$port"; then
    echo "$name: up on 127.0.0.1:$port"
    return 0
  fi
  echo "$name: not answering on 127.0.0.1:$port, starting it"
  if "$start_fn" && wait_port "$port"; then
    echo "$name: up on 127.0.0.1:$port"
    return 0
  fi
  if [ "$required" = yes ]; then
    echo "ERROR: $name is required but does not answer on 127.0.0.1:$port after ${WAIT_SECONDS}s." >&2
    echo "       Start it yourself (or: docker compose up -d postgres) and run this again." >&2
    return 1
  fi
  echo "WARNING: $name does not answer on 127.0.0.1:$port; tests that need it will fail or skip." >&2
}

status() {
  local rc=0 name port
  for entry in postgres:5432 mariadb:3306 redis:6379; do
    name="${entry%%:*}" port="${entry##*:}"
    if port_open "$port"; then
      echo "$name: up on 127.0.0.1:$port"
    else
      echo "$name: down on 127.0.0.1:$port"
      [ "$name" = postgres ] && rc=1
    fi
  done
  return "$rc"
}

case "${1:-start}" in
  start)
    ensure postgres 5432 start_postgres yes
    ensure mariadb 3306 start_mariadb no
    ensure redis 6379 start_redis no
    ;;
  status) status ;;
  *)
    echo "usage: $0 [start|status]" >&2
    exit 2
    ;;
esac
