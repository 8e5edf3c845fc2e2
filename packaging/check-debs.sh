#!/usr/bin/env bash
# Builds both Debian packages and checks them as an administrator would
# meet them: lintian, their contents, the systemd units (verify, security
# rating), the desktop entry and the AppStream metainfo; then installs them
# with dpkg, runs the binaries, reads a man page, starts the unit's
# ExecStart line by hand as the packaged user (no systemd runs in CI), takes
# the nightly backup by hand, removes the package (the data stay),
# installs it again (the data are used) and purges it (the data go).
# For a throw-away machine (CI) or a test machine: run as root.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
[ "$(id -u)" -eq 0 ] || { echo "check-debs: run as root (it installs the packages)" >&2; exit 1; }

packages=(lintian desktop-file-utils appstream man-db dpkg-dev curl adduser)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

step() { echo "check-debs: $*" >&2; }
fail() { echo "check-debs: FAILED: $*" >&2; exit 1; }

packaging/build-debs.sh
app_deb=$(ls target/debian/sprechtag_*.deb)
server_deb=$(ls target/debian/sprechtag-server_*.deb)

step "lintian"
lintian --fail-on error --suppress-tags initial-upload-closes-no-bugs "$server_deb" "$app_deb"

step "contents"
expect_files() {
  local deb=$1; shift
  local listing
  listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
  for f in "$@"; do
    grep -qx "\./$f" <<<"$listing" || fail "$deb lacks /$f"
  done
}
expect_files "$server_deb" \
  usr/bin/sprechtag-server \
  etc/sprechtag/server.toml \
  usr/lib/systemd/system/sprechtag-server.service \
  usr/lib/systemd/system/sprechtag-server-backup.service \
  usr/lib/systemd/system/sprechtag-server-backup.timer \
  usr/share/man/man1/sprechtag-server.1.gz \
  usr/share/man/man1/sprechtag-server-serve.1.gz \
  usr/share/man/man1/sprechtag-server-backup.1.gz \
  usr/share/man/man1/sprechtag-server-device-enrol.1.gz \
  usr/share/bash-completion/completions/sprechtag-server \
  usr/share/zsh/vendor-completions/_sprechtag-server \
  usr/share/fish/vendor_completions.d/sprechtag-server.fish \
  usr/share/doc/sprechtag-server/copyright
expect_files "$app_deb" \
  usr/bin/sprechtag \
  usr/share/applications/de.sprechtag.Sprechtag.desktop \
  usr/share/metainfo/de.sprechtag.Sprechtag.metainfo.xml \
  usr/share/icons/hicolor/scalable/apps/de.sprechtag.Sprechtag.svg \
  usr/share/icons/hicolor/48x48/apps/de.sprechtag.Sprechtag.png \
  usr/share/icons/hicolor/256x256/apps/de.sprechtag.Sprechtag.png \
  usr/share/sprechtag/catalog/services.json \
  usr/share/man/man1/sprechtag.1.gz \
  usr/share/man/man1/sprechtag-case-new.1.gz \
  usr/share/bash-completion/completions/sprechtag \
  usr/share/doc/sprechtag/copyright
dpkg-deb --ctrl-tarfile "$server_deb" | tar -xO ./conffiles | grep -qx /etc/sprechtag/server.toml \
  || fail "server.toml is not a conffile"

step "install"
dpkg -i "$server_deb" "$app_deb"
/usr/bin/sprechtag --version
/usr/bin/sprechtag-server --version
man -w sprechtag-server
man -w sprechtag-server-device-enrol
getent passwd sprechtag >/dev/null || fail "no user sprechtag"
[ "$(stat -c '%U %a' /etc/sprechtag/db.key)" = "sprechtag 600" ] || fail "db.key: $(stat -c '%U %a' /etc/sprechtag/db.key)"

step "systemd units"
units=(/usr/lib/systemd/system/sprechtag-server.service
       /usr/lib/systemd/system/sprechtag-server-backup.service
       /usr/lib/systemd/system/sprechtag-server-backup.timer)
systemd-analyze verify "${units[@]}"
for unit in "${units[0]}" "${units[1]}"; do
  rating=$(systemd-analyze security --offline=true "$unit" 2>&1 | grep "Overall exposure level")
  echo "$rating"
  grep -Eq " (SAFE|OK) " <<<"$rating" || fail "exposure of $unit: $rating"
done

step "desktop entry and metainfo"
desktop-file-validate /usr/share/applications/de.sprechtag.Sprechtag.desktop
appstreamcli validate --no-net /usr/share/metainfo/de.sprechtag.Sprechtag.metainfo.xml

exec_start() { sed -n 's/^ExecStart=//p' "/usr/lib/systemd/system/$1"; }
server_pid=
server_log=$(mktemp)
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=
}
trap stop_server EXIT
start_server() {
  # setpriv execs (unlike runuser): $! is the server itself, for SIGHUP.
  # shellcheck disable=SC2046
  setpriv --reuid=sprechtag --regid=sprechtag --init-groups -- \
    $(exec_start sprechtag-server.service) 2>>"$server_log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS http://127.0.0.1:8443/health 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$server_log" >&2
  fail "the server did not answer /health"
}

step "the service's ExecStart, by hand as user sprechtag"
start_server
echo
runuser -u sprechtag -- sprechtag-server device enrol --name Laptop-1 --user pruefer \
  --role caseworker --department buergerservice >/dev/null
curl -fsS http://127.0.0.1:8443/metrics | grep -Eq '^sprechtag_database_bytes [1-9][0-9]*$' \
  || fail "/metrics on loopback"
kill -HUP "$server_pid"   # systemctl reload: without TLS it only says so
sleep 0.5
curl -fsS http://127.0.0.1:8443/health >/dev/null || fail "the server did not survive SIGHUP"
grep -q "SIGHUP" "$server_log" || fail "the server did not hear SIGHUP"
runuser -u sprechtag -- $(exec_start sprechtag-server-backup.service)
ls /var/backups/sprechtag/sprechtag-server-*.backup >/dev/null || fail "no backup"
stop_server

step "an upgrade keeps the data"
# The same build as a later package revision: dpkg runs the upgrade path
# (prerm upgrade, the new postinst with the old version).
upgrade_dir=$(mktemp -d)
cargo deb --no-build --locked --strip -p sprechtag-server --deb-revision 2 --output "$upgrade_dir" >/dev/null
key_before=$(sha256sum /etc/sprechtag/db.key)
dpkg -i "$upgrade_dir"/sprechtag-server_*.deb
[ "$(sha256sum /etc/sprechtag/db.key)" = "$key_before" ] || fail "the upgrade changed the key"
start_server
echo
runuser -u sprechtag -- sprechtag-server device list | grep -q Laptop-1 || fail "the upgrade lost the device"
stop_server
rm -rf "$upgrade_dir"

step "remove keeps the data; installing again uses them"
dpkg -r sprechtag-server
[ -e /var/lib/sprechtag/sprechtag-server.db ] || fail "remove deleted the database"
[ -e /etc/sprechtag/db.key ] || fail "remove deleted the key"
dpkg -i "$server_deb"
start_server
echo
runuser -u sprechtag -- sprechtag-server device list | grep -q Laptop-1 || fail "the device is gone"
stop_server

step "purge deletes the data, after saying so"
dpkg --purge sprechtag-server 2>&1 | tee /tmp/check-debs-purge.log
grep -q "purge deletes the server's data" /tmp/check-debs-purge.log || fail "purge said nothing"
for gone in /var/lib/sprechtag /var/backups/sprechtag /etc/sprechtag/db.key; do
  [ ! -e "$gone" ] || fail "$gone survived the purge"
done
dpkg --purge sprechtag
step "all checks passed"
