#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests, in DIR, listening on a
# Unix socket in DIR and, with TLS only, on a free TCP port of 127.0.0.1
# (a certificate for "localhost" from a CA made here, for the TLS tests):
#   eval "$(tests/postgres/cluster.sh start DIR)"
#     # exports SPRECHTAG_TEST_POSTGRES (the socket), SPRECHTAG_TEST_POSTGRES_TLS
#     # (the TCP URL) and SPRECHTAG_TEST_POSTGRES_CA (the CA's PEM)
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
    # A CA and the server's certificate (localhost, 127.0.0.1).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=Sprechtag test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/san.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null
    chmod 600 "$dir/server.key"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir/server.key" "$dir/server.pem"
    # TCP takes TLS only (hostssl); the socket stays plain.
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' > "$dir/data/pg_hba.conf"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 \
          -c ssl=on -c ssl_cert_file=$dir/server.pem -c ssl_key_file=$dir/server.key" start >/dev/null
    echo "export SPRECHTAG_TEST_POSTGRES='postgres://postgres@$(url_path "$dir"):$port/postgres'"
    echo "export SPRECHTAG_TEST_POSTGRES_TLS='postgres://postgres@localhost:$port/postgres?sslmode=require'"
    echo "export SPRECHTAG_TEST_POSTGRES_CA='$dir/ca.pem'"
elif [ "$command" = stop ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
else
  echo "cluster.sh: start or stop" >&2
  exit 2
fi
