#!/usr/bin/env bash
# Install Debian's Chromium and ChromeDriver for the browser test of the built book
# (tests/test_book_site.py drives /usr/bin/chromium through /usr/bin/chromedriver).
# Needs root (or sudo) and apt. Idempotent.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  echo "chromium and chromedriver already installed"
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
/usr/bin/chromium --version
