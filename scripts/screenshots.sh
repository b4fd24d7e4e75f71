#!/usr/bin/env bash
# Regenerate the README's screenshots of the review workbench (docs/screenshots/*.png): the browser tests
# save them as they go, so the pictures always show the app as tested.
set -euo pipefail
cd "$(dirname "$0")/.."
DANGAN_SETUP_BROWSER=1 bash scripts/setup.sh
DANGAN_SKIP_POSTGRES=1 DANGAN_SCREENSHOTS="$PWD/docs/screenshots" .venv/bin/python -m pytest -q tests/test_review_browser.py
ls -l docs/screenshots
