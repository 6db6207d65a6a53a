#!/usr/bin/env bash
# Installs the npm client tests' dependencies exactly as package-lock.json pins them, into
# src/test/js/node_modules. Called by Maven at generate-test-resources; nothing is downloaded
# when the tests run. Skips the install when package.json, the lockfile and node are unchanged
# since the last one.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "src/test/js/install.sh: the tests drive the server with the openai npm client and need Node.js (>= 20) and npm on the PATH; install them (e.g. apt-get install nodejs npm)." >&2
  exit 1
fi

STAMP=node_modules/.gatun-install.sha256
HASH=$({ node --version; sha256sum package.json package-lock.json; } | sha256sum | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$HASH" ]]; then
  echo "npm: up to date (src/test/js/node_modules)"
  exit 0
fi
# openai declares node >= 22 and the machines have 20: npm warns (EBADENGINE); the scripts only
# use what node 20 has, and the tests show that the client works there.
npm ci --no-audit --no-fund --loglevel=error
echo "$HASH" > "$STAMP"
