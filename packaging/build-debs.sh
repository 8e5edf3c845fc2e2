#!/usr/bin/env bash
# Builds the Debian packages `sprechtag` (the desktop app) and
# `sprechtag-server` (the sync server) into target/debian/, with cargo-deb.
# Installs what it needs: cargo-deb (into ~/.cargo/bin), and, as root,
# dpkg-dev (dpkg-shlibdeps works out the library dependencies).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

cargo_deb_version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$cargo_deb_version"; then
  echo "build-debs: installing cargo-deb $cargo_deb_version" >&2
  cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi
if ! command -v dpkg-shlibdeps >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
  else
    echo "build-debs: dpkg-shlibdeps is missing: sudo apt-get install dpkg-dev" >&2
    exit 1
  fi
fi

target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

# The packaged server reads /etc/sprechtag/server.toml when no --config is
# given (a developer's build reads no file by default).
export SPRECHTAG_SERVER_DEFAULT_CONFIG=/etc/sprechtag/server.toml
cargo build --release --locked -p sprechtag -p sprechtag-server

# Man pages, completions and the settings file, from the binaries
# themselves; cargo-deb finds them under target/release/generated/.
generated="$target_dir/release/generated"
rm -rf "$generated"
"$target_dir/release/sprechtag-server" generate-docs --out "$generated/sprechtag-server"
"$target_dir/release/sprechtag" generate-docs --out "$generated/sprechtag"
"$target_dir/release/sprechtag-server" config > "$generated/sprechtag-server/server.toml"
gzip -9n "$generated"/*/man/*.1

out="$repo/target/debian"
mkdir -p "$out"
rm -f "$out"/sprechtag_*.deb "$out"/sprechtag-server_*.deb
# Stripped: the release profile keeps line tables for backtraces in
# development, the packages need none.
cargo deb --no-build --locked --strip -p sprechtag-server --output "$out"
cargo deb --no-build --locked --strip -p sprechtag --output "$out"
