#!/usr/bin/env bash
# Set up and run the test suite. "No tests collected" (pytest exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
DANGAN_SETUP_BROWSER=1 bash scripts/setup.sh || exit 1
# The storage tests run against a real PostgreSQL server too: start (or reuse) a private one.
if [ "${DANGAN_SKIP_POSTGRES:-0}" != "1" ] && [ -z "${DANGAN_TEST_POSTGRES_URL:-}" ]; then
  DANGAN_TEST_POSTGRES_URL="$(bash scripts/postgres.sh)" || { echo "test: could not start PostgreSQL" >&2; exit 1; }
  export DANGAN_TEST_POSTGRES_URL
fi
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests — treating as failure" >&2
  exit 1
fi
exit "$rc"
