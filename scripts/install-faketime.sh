#!/usr/bin/env bash
# Installs Debian's faketime (libfaketime) for the clock-skew test, when it is
# missing and this machine lets us (root with apt-get). Without it that one
# test is skipped, with the reason; nothing else needs it.
set -u
for lib in /usr/lib/*-linux-gnu/faketime/libfaketime.so.1; do
  if [ -e "$lib" ]; then exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-faketime: not root with apt-get; the clock-skew test with the real programs will be skipped (apt-get install faketime to run it)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# install-browser.sh has usually updated the package lists already.
if apt-get install -y -qq faketime >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq faketime >/dev/null; }; then
  echo "install-faketime: faketime installed"
else
  echo "install-faketime: faketime could not be installed; the clock-skew test with the real programs will be skipped"
fi
exit 0
