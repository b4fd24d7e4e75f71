#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: system fonts (sample generation), Chromium for the browser tests
# (DANGAN_SETUP_BROWSER=1), .venv, the project and its test/benchmark extras. Re-running is cheap:
# each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need_apt+=(fonts-wqy-zenhei)
[ -f /usr/share/fonts/truetype/arphic/uming.ttc ] || need_apt+=(fonts-arphic-uming)
# The review workbench's browser tests drive Debian's Chromium (scripts/test.sh asks for it).
if [ "${DANGAN_SETUP_BROWSER:-0}" = "1" ] && [ ! -x /usr/bin/chromium ]; then need_apt+=(chromium); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} (apt)" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install the CJK fonts ${need_apt[*]}" >&2
  fi
fi

PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || { echo "setup: creating .venv" >&2; "$PY" -m venv .venv; }
stamp=".venv/.dangan-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing dangan into .venv (first time takes a minute or two)" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
