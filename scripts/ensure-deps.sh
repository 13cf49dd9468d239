#!/usr/bin/env bash
# Makes this checkout ready to build, test and demo: the Postgres and NATS servers the tests
# start, pnpm, the node packages and the build. Idempotent, and silent when all is there, so
# that `pnpm test` and `pnpm demo` can call it every time (a fresh CI machine has nothing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "==> $*"; }

# Runs a command with its output held back; shows the output only if it fails.
quietly() {
  local log
  log="$(mktemp)"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "ensure-deps: '$*' failed" >&2
    return 1
  fi
  rm -f "$log"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "ensure-deps: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# --- system packages: the servers the integration tests and the demo run ---------------------
# Debian keeps initdb and postgres out of PATH, under /usr/lib/postgresql/<major>/bin.
have_initdb() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1; }
have_nats() { [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1; }
# The console tests drive Debian's Chromium through playwright-core (which downloads no browser).
have_chromium() { [ -x /usr/bin/chromium ]; }

apt_packages=()
have_initdb || apt_packages+=(postgresql)
have_nats || apt_packages+=(nats-server)
have_chromium || apt_packages+=(chromium)
if [ "${#apt_packages[@]}" -gt 0 ]; then
  say "installing ${apt_packages[*]} (apt-get)"
  quietly as_root apt-get update
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
fi

# --- pnpm, at the version the root package.json pins ----------------------------------------
if ! command -v pnpm >/dev/null 2>&1; then
  pnpm_version="$(node -e 'const pm = require("./package.json").packageManager ?? "pnpm@10"; console.log(pm.split("@")[1].split("+")[0])')"
  say "installing pnpm@${pnpm_version} (npm install -g)"
  quietly as_root npm install -g "pnpm@${pnpm_version}"
fi

# --- node packages ---------------------------------------------------------------------------
# pnpm keeps a copy of the lockfile it installed from: when it matches, there is nothing to
# say (pnpm install still runs, and is quick, in case a workspace package.json changed).
if [ -f pnpm-lock.yaml ]; then
  cmp -s pnpm-lock.yaml node_modules/.pnpm/lock.yaml 2>/dev/null || say "installing node packages (pnpm install --frozen-lockfile)"
  quietly pnpm install --frozen-lockfile
else
  say "installing node packages (pnpm install, no lockfile)"
  quietly pnpm install
fi

# --- build -----------------------------------------------------------------------------------
# tsc -b is incremental: a no-op when the build is current, so it runs every time.
[ -f packages/cli/dist/main.js ] || say "building (pnpm build)"
quietly pnpm build
