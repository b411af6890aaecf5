#!/usr/bin/env bash
# Makes sure the lab's engines (and the charts' font) are installed and running, and that the lab's PostgreSQL role
# exists. Idempotent: safe to run before every command. Used by ./firedrill, eng/test.sh
# and .ci/run.
#
# Every address is configurable; the defaults are loopback:
#   FIREDRILL_PG_HOST (127.0.0.1)  FIREDRILL_PG_PORT (5432)  FIREDRILL_PG_USER (firedrill)
#   FIREDRILL_PG_DATABASE (firedrill)  FIREDRILL_PG_PASSWORD (generated once per machine, kept in
#   /var/lib/firedrill as root, else ${XDG_STATE_HOME:-~/.local/state}/firedrill, so every checkout
#   on the machine shares the role and its password)
#   FIREDRILL_REDIS (127.0.0.1:6379)
#   FIREDRILL_MANAGE_ENGINES (1: install and start local engines; 0: only write the env file,
#                             for engines you run yourself elsewhere)
# Writes .firedrill/engines.env (git-ignored) with the connection strings the services read.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state="$root/.firedrill"
mkdir -p "$state"

pg_host=${FIREDRILL_PG_HOST:-127.0.0.1}
pg_port=${FIREDRILL_PG_PORT:-5432}
pg_user=${FIREDRILL_PG_USER:-firedrill}
pg_db=${FIREDRILL_PG_DATABASE:-firedrill}
redis=${FIREDRILL_REDIS:-127.0.0.1:6379}
manage=${FIREDRILL_MANAGE_ENGINES:-1}

say() { echo "engines: $*" >&2; }
fail() { echo "engines: $*" >&2; exit 1; }

# The role's password is the machine's, not the checkout's: one role serves every checkout, and
# a second clone must not reset the password under the first. Generated on first use, never
# committed, readable only by its owner.
if [ "$(id -u)" -eq 0 ]; then machine_state=/var/lib/firedrill; else machine_state="${XDG_STATE_HOME:-$HOME/.local/state}/firedrill"; fi
mkdir -p "$machine_state"
if [ -z "${FIREDRILL_PG_PASSWORD:-}" ]; then
  if [ ! -s "$machine_state/pg-password" ]; then
    if [ -s "$state/pg-password" ]; then
      # A checkout made before the password moved to the machine: keep the one the role already has.
      (umask 077; cp "$state/pg-password" "$machine_state/pg-password")
    else
      (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$machine_state/pg-password.tmp" && mv "$machine_state/pg-password.tmp" "$machine_state/pg-password")
    fi
  fi
  FIREDRILL_PG_PASSWORD=$(cat "$machine_state/pg-password")
fi

if [ "$manage" = 1 ]; then
  missing=()
  # fonts-dejavu-core: the report's charts (ScottPlot) need a font to draw their labels.
  # prometheus-postgres-exporter: each fleet runs one against its database (what a DBA's dashboards read);
  # curl: the lab captures what a user would see with it, as evidence.
  # kcat: the lab reads the payments topic with it, an independent reader of what the consumers applied.
  for pkg in postgresql redis-server prometheus prometheus-postgres-exporter curl kcat fonts-dejavu-core; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      fail "missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    fi
    say "installing ${missing[*]} (apt-get)"
    apt-get update -qq >/dev/null || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || fail "apt-get install ${missing[*]} failed"
    # The Debian packages leave their own services running or not depending on the machine;
    # Prometheus is spawned by the lab itself, never as a system service.
    service prometheus stop >/dev/null 2>&1 || true
    service prometheus-node-exporter stop >/dev/null 2>&1 || true
    service prometheus-postgres-exporter stop >/dev/null 2>&1 || true
  fi

  # A daemon started here must not inherit the caller's descriptors: a lock held by whoever ran the
  # lab (`flock /tmp/firedrill-measure.lock ./firedrill …`) was held by PostgreSQL and Redis for ever.
  daemon() { ( for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null; exec "$@" ); }

  # PostgreSQL refuses to run as root; the Debian service runs it as the postgres user.
  if ! pg_isready -q -h "$pg_host" -p "$pg_port"; then
    [ "$(id -u)" -eq 0 ] || fail "PostgreSQL is not running on $pg_host:$pg_port; run: sudo service postgresql start"
    say "starting PostgreSQL"
    daemon service postgresql start >/dev/null
    for _ in $(seq 1 50); do pg_isready -q -h "$pg_host" -p "$pg_port" && break; sleep 0.2; done
    pg_isready -q -h "$pg_host" -p "$pg_port" || fail "PostgreSQL did not become ready on $pg_host:$pg_port"
  fi

  redis_host=${redis%:*}; redis_port=${redis##*:}
  if ! redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || fail "Redis is not running on $redis; run: sudo service redis-server start"
    say "starting Redis"
    daemon service redis-server start >/dev/null
    for _ in $(seq 1 50); do redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.2; done
    redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1 || fail "Redis did not become ready on $redis"
  fi

  as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else sudo -u postgres sh -c "$1"; fi; }

  # pg_stat_statements (the top statements by time) and auto_explain (plans of slow statements in
  # the server log) must be preloaded, and a fleet holds up to 50 connections per replica (plus
  # the tests' and the lab's own), more than the default 100 when fleets run side by side: set
  # once, and PostgreSQL restarted only when a setting changes.
  preload=$(as_postgres "psql -tA -p $pg_port -c 'SHOW shared_preload_libraries'")
  connections=$(as_postgres "psql -tA -p $pg_port -c 'SHOW max_connections'")
  if ! grep -q pg_stat_statements <<<"$preload" || ! grep -q auto_explain <<<"$preload" || [ "$connections" -lt 400 ]; then
    [ "$(id -u)" -eq 0 ] || fail "PostgreSQL needs shared_preload_libraries = 'pg_stat_statements, auto_explain' and max_connections >= 400; as root: ALTER SYSTEM SET ... and restart PostgreSQL"
    say "preloading pg_stat_statements and auto_explain, max_connections 400 (restarting PostgreSQL once)"
    as_postgres "psql -q -v ON_ERROR_STOP=1 -p $pg_port" <<'SQL' >/dev/null
ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', 'auto_explain';
ALTER SYSTEM SET max_connections = 400;
-- Loaded into this session so its settings are known to ALTER SYSTEM before the restart.
LOAD 'auto_explain';
ALTER SYSTEM SET auto_explain.log_min_duration = '500ms';
SQL
    daemon service postgresql restart >/dev/null
    for _ in $(seq 1 50); do pg_isready -q -h "$pg_host" -p "$pg_port" && break; sleep 0.2; done
    pg_isready -q -h "$pg_host" -p "$pg_port" || fail "PostgreSQL did not come back after the restart"
  fi

  # The role may create databases: the lab uses a fresh database per run, the tests one per class.
  # It may create roles and end their sessions: a fleet that cuts one replica off its database
  # gives each replica a role of its own (dropped with the fleet), and cuts it with NOLOGIN plus
  # pg_terminate_backend (pg_signal_backend: never a superuser's session).
  as_postgres "psql -q -v ON_ERROR_STOP=1 -p $pg_port" <<SQL >/dev/null
SET client_min_messages = warning;
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$pg_user') THEN
    CREATE ROLE "$pg_user" LOGIN CREATEDB CREATEROLE PASSWORD '$FIREDRILL_PG_PASSWORD';
  ELSE
    ALTER ROLE "$pg_user" LOGIN CREATEDB CREATEROLE PASSWORD '$FIREDRILL_PG_PASSWORD';
  END IF;
END
\$\$;
GRANT pg_signal_backend TO "$pg_user";
SQL

  # Every new database (the lab's runs, the tests') is copied from template1, so it has
  # pg_stat_statements without each run needing a superuser; pg_read_all_stats lets the role (and
  # the fleets' postgres_exporter) read every session and statement, as a DBA's monitoring does.
  as_postgres "psql -q -v ON_ERROR_STOP=1 -p $pg_port -d template1" <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
GRANT pg_read_all_stats TO "$pg_user";
SQL
  if ! as_postgres "psql -tA -p $pg_port -c \"SELECT 1 FROM pg_database WHERE datname = '$pg_db'\"" | grep -q 1; then
    as_postgres "createdb -p $pg_port -O '$pg_user' '$pg_db'"
  fi
fi

# Debian's PostgreSQL offers TLS (a self-signed certificate) and Npgsql prefers it: on loopback
# that only encrypts every round trip (bench/: a large share of the shop's CPU per payment).
ssl_mode=Prefer
case "$pg_host" in 127.0.0.1|localhost|::1) ssl_mode=Disable ;; esac

cat > "$state/engines.env" <<ENV
export ConnectionStrings__Postgres='Host=$pg_host;Port=$pg_port;Username=$pg_user;Password=$FIREDRILL_PG_PASSWORD;Database=$pg_db;SSL Mode=$ssl_mode'
export ConnectionStrings__Redis='$redis'
ENV
chmod 600 "$state/engines.env"
say "PostgreSQL $pg_host:$pg_port (database $pg_db), Redis $redis: ready"
