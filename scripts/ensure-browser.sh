#!/usr/bin/env bash
# Make sure the browser tests have a Chromium: Debian's package where we are root on Debian
# (offline machines), Playwright's own download otherwise (online machines).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "Installing Playwright's Chromium"
  "${1:-.venv/bin/python}" -m playwright install chromium
fi
