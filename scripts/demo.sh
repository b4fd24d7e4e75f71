#!/usr/bin/env bash
# Set up, train the seed model if none is registered yet, and run the pipeline on the bundled inbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/dangan train --if-missing
.venv/bin/dangan run data/samples/inbox --out "${1:-out/demo}"
