#!/usr/bin/env bash
# Start, stop or inspect a private MySQL-compatible server for development and tests.
# Its datadir, socket, pid file and logs live under $IPMS_HOME (default: <project>/.ipms),
# it listens on 127.0.0.1:$IPMS_DB_PORT (default 33061) and never touches a system server.
#
#   scripts/db-server.sh start    # idempotent; prints the connection URL on stdout
#   scripts/db-server.sh stop     # idempotent
#   scripts/db-server.sh status   # exit 0 when running
#   scripts/db-server.sh url      # the URL of the admin account (server need not run)
#
# IPMS_DB_PORT is remembered for the datadir from its first start: set it once.
#
# The server runs with the binary log on (row format), as MySQL 8 does by default, so that
# trigger installation is exercised under the same rules as in production.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
home=${IPMS_HOME:-$here/.ipms}
# The port is kept with the datadir (.ipms/port): later calls without IPMS_DB_PORT (npm test,
# the url command, npm run db:start) find the server where it was started.
portfile=$home/port
saved_port=$(cat "$portfile" 2>/dev/null || true)
port=${IPMS_DB_PORT:-${saved_port:-33061}}
datadir=$home/mysql
sock=$home/mysql.sock
pidfile=$home/mysql.pid
errlog=$home/mysql.err
pwfile=$home/admin.password
dbname=${IPMS_DB_NAME:-ipms}

say() { printf 'db-server: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

find_server() {
  for c in mariadbd mysqld; do
    for d in /usr/sbin /usr/local/sbin /usr/bin /usr/local/bin /usr/libexec; do
      [ -x "$d/$c" ] && { echo "$d/$c"; return 0; }
    done
    command -v "$c" 2>/dev/null && return 0
  done
  return 1
}

find_client() {
  for c in mariadb mysql; do command -v "$c" 2>/dev/null && return 0; done
  return 1
}

ensure_installed() {
  if find_server >/dev/null; then return 0; fi
  if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null; then
    say "no mysqld/mariadbd found: installing Debian's mariadb-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq mariadb-server mariadb-client >/dev/null
    # The package starts a system instance; we do not need it.
    (service mariadb stop || true) >/dev/null 2>&1
    find_server >/dev/null || die "mariadb-server installed but no mariadbd binary found"
    return 0
  fi
  die "no MySQL-compatible server found. Install one, e.g. 'sudo apt-get install mariadb-server' (Debian/Ubuntu) or MySQL 8.0+, then run this again"
}

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

password() {
  if [ ! -s "$pwfile" ]; then
    mkdir -p "$home"
    (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$pwfile")
  fi
  cat "$pwfile"
}

url() { echo "mysql://ipms_admin:$(password)@127.0.0.1:$port/$dbname"; }

client() {
  local cl; cl=$(find_client) || die "no mariadb/mysql client found (apt-get install mariadb-client)"
  "$cl" --no-defaults --socket="$sock" -uroot "$@"
}

start() {
  ensure_installed
  if running; then
    if [ -n "$saved_port" ] && [ "$port" != "$saved_port" ]; then
      die "the server of $home already runs on port $saved_port, not $port: stop it first ($0 stop) to start it on another port"
    fi
    url; return 0
  fi
  local server; server=$(find_server)
  mkdir -p "$home"
  local fresh=0
  if [ ! -d "$datadir/mysql" ]; then
    fresh=1
    rm -rf "$datadir"; mkdir -p "$datadir"
    local installer
    installer=$(command -v mariadb-install-db || command -v mysql_install_db || true)
    if [ -n "$installer" ]; then
      "$installer" --no-defaults --datadir="$datadir" --auth-root-authentication-method=socket \
        --skip-test-db ${EUID:+--user=$(id -un)} >"$home/install.log" 2>&1 \
        || { cat "$home/install.log" >&2; die "database initialisation failed"; }
    else
      "$server" --no-defaults --initialize-insecure --datadir="$datadir" >"$home/install.log" 2>&1 \
        || { cat "$home/install.log" >&2; die "database initialisation failed"; }
    fi
  fi
  local userarg=()
  [ "$(id -u)" = 0 ] && userarg=(--user=root)
  # Durability settings are the servers' defaults; the binary log is on like MySQL 8's default,
  # and so is the SQL mode (stricter than MariaDB's: ONLY_FULL_GROUP_BY, NO_ZERO_DATE ...), so
  # that the tests hold the SQL to what both servers take.
  # A tmpdir of its own: a server starting up deletes every #sql* file in its tmpdir, so
  # another server sharing /tmp would pull the temporary tables from under running queries.
  mkdir -p "$home/tmp"
  "$server" --no-defaults "${userarg[@]}" \
    --datadir="$datadir" --tmpdir="$home/tmp" --socket="$sock" --pid-file="$pidfile" --log-error="$errlog" \
    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --default-time-zone=+00:00 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --log-bin="$home/binlog" --server-id=1 --binlog-format=ROW --log-bin-trust-function-creators=1 \
    --max-connections=300 --innodb-buffer-pool-size=512M \
    --sql-mode=ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION \
    >/dev/null 2>&1 &
  local server_pid=$! i
  echo "$port" > "$portfile"
  for i in $(seq 1 150); do
    if client -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      grep -E '\[ERROR\]' "$errlog" | tail -n 3 >&2 || true
      die "server exited at start (port $port taken? set IPMS_DB_PORT); log: $errlog"
    fi
    if [ "$i" = 150 ]; then tail -n 20 "$errlog" >&2 || true; die "server did not come up within 30 s (log: $errlog)"; fi
    sleep 0.2
  done
  # The admin account used by migrations, tests and the quickstart (local server only).
  local pw; pw=$(password)
  # (on standard input, not in the arguments: a command line is visible to every local user)
  client <<SQL || die "could not create the admin account"
CREATE USER IF NOT EXISTS 'ipms_admin'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER 'ipms_admin'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO 'ipms_admin'@'127.0.0.1' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`$dbname\`;
SQL
  [ "$fresh" = 1 ] && say "initialised a new datadir in $datadir"
  say "running on 127.0.0.1:$port (socket $sock)"
  url
}

stop() {
  if ! running; then rm -f "$pidfile"; say "not running"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  kill "$pid"
  local i
  for i in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { say "stopped"; return 0; }
    sleep 0.1
  done
  die "server (pid $pid) did not stop within 30 s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then say "running (pid $(cat "$pidfile"), port $port)"; url; else say "not running"; exit 1; fi ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
