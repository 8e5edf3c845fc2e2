#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests, in DIR, listening only on
# a Unix socket in DIR (no TCP port, nothing to collide with):
#   eval "$(tests/postgres/cluster.sh start DIR)"   # exports SPRECHTAG_TEST_POSTGRES
#   tests/postgres/cluster.sh stop DIR
# initdb refuses to run as root: as root the cluster belongs to the user
# postgres (from Debian's postgresql package). fsync is off: nothing in it
# outlives the test run.
set -euo pipefail
command=${1:?start or stop}
dir=${2:?the directory of the cluster}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "cluster.sh: PostgreSQL is not installed (apt install postgresql)" >&2; exit 1; }
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  as_owner=(runuser -u postgres --)
fi
url_path() {
  python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}
if [ "$command" = start ]; then
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses='' -k $dir -c fsync=off -c max_connections=300" start >/dev/null
    echo "export SPRECHTAG_TEST_POSTGRES='postgres://postgres@$(url_path "$dir")/postgres'"
elif [ "$command" = stop ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
else
  echo "cluster.sh: start or stop" >&2
  exit 2
fi
