#!/usr/bin/env bash
# Runs the W3C trace-context test suite against weft.
#
#   examples/trace-context-harness/run-harness.sh <path to a w3c/trace-context checkout (or its test/ folder)>
#
# The suite's code is not part of this repository: give the path of a copy you have. It needs
# python3 with aiohttp (Debian: apt-get install python3-aiohttp). Runs at SPEC_LEVEL=2 and
# STRICT_LEVEL=2 unless those are set; exits with the suite's status (0 when every case passed).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
suite="${1:?usage: $0 <path to w3c/trace-context or its test/ folder>}"
[ -f "$suite/test/test.py" ] && suite="$suite/test"
[ -f "$suite/test.py" ] || { echo "no test.py in $suite" >&2; exit 2; }
python="${PYTHON:-/usr/bin/python3}"
"$python" -c 'import aiohttp' 2>/dev/null || { echo "$python has no aiohttp: apt-get install -y python3-aiohttp" >&2; exit 2; }

export PATH="$root/node_modules/.bin:$PATH"
if [ ! -f "$root/packages/client/dist/index.js" ] || [ ! -f "$root/packages/server/dist/index.js" ]; then
  (cd "$root" && npx turbo run build --filter=@weft/client... --output-logs=errors-only)
fi

port="${PORT:-5000}"
harness_port="${HARNESS_PORT:-7777}"
PORT="$port" HARNESS_PORT="$harness_port" node "$here/service.mjs" &
service=$!
trap 'kill "$service" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

cd "$suite"
SPEC_LEVEL="${SPEC_LEVEL:-2}" STRICT_LEVEL="${STRICT_LEVEL:-2}" HARNESS_PORT="$harness_port" \
  "$python" test.py "http://127.0.0.1:$port/test"
