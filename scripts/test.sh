#!/usr/bin/env bash
# Set up and run the test suite. "No tests collected" (pytest exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests — treating as failure" >&2
  exit 1
fi
exit "$rc"
