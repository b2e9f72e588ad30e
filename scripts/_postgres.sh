# Sourced by scripts/test: a throwaway PostgreSQL cluster for the suite, stopped on exit.
# Installs the Debian package when no server binaries are present. Sets CONVERSION_TEST_POSTGRES_URL.
set -euo pipefail
pg_bin_dir() {
  local base=/usr/lib/postgresql
  [ -d "$base" ] || return 1
  local version
  version="$(ls "$base" | sort -V | tail -1)"
  [ -n "$version" ] && [ -x "$base/$version/bin/initdb" ] && echo "$base/$version/bin"
}
if ! PGBIN="$(pg_bin_dir)"; then
  echo "==> installing PostgreSQL (Debian package postgresql)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PGBIN="$(pg_bin_dir)"
fi
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
PG_DATA="$(mktemp -d /tmp/conversion-sync-pg.XXXXXX)"
if [ "$(id -u)" = 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres:postgres "$PG_DATA"
  PG_AS=(runuser -u postgres --)
else
  PG_AS=()
fi
chmod 700 "$PG_DATA"
"${PG_AS[@]}" "$PGBIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PG_DATA.initdb.log" 2>&1 \
  || { cat "$PG_DATA.initdb.log"; exit 1; }
"${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
  -o "-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
stop_postgres() {
  "${PG_AS[@]}" "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DATA" "$PG_DATA.initdb.log"
}
export CONVERSION_TEST_POSTGRES_URL="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/postgres"
echo "==> PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on port $PG_PORT (throwaway cluster)"
