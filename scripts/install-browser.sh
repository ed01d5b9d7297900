#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test, when it is missing and this
# machine lets us (root with apt-get). Without it that one test is skipped,
# with the reason; nothing else needs it.
set -u
if command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM_PATH:-}" ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: not root with apt-get; the browser test will be skipped (apt-get install chromium to run it)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq chromium >/dev/null; then
  echo "install-browser: chromium installed"
else
  echo "install-browser: chromium could not be installed; the browser test will be skipped"
fi
exit 0
