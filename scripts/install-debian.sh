#!/usr/bin/env bash
# Installs a Debian package that a few tests use, when it is missing and this
# machine lets us (root with apt-get). Without it those tests are skipped,
# with the reason; nothing else needs it.
# Usage: install-debian.sh PACKAGE PROBE WHAT
#   PROBE: a shell command that succeeds when the package is there already
#   WHAT:  the tests that need it, for the messages
set -u
package=$1 probe=$2 what=$3
if bash -c "$probe" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-$package: not root with apt-get; $what will be skipped (apt-get install $package to run them)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# install-browser.sh has usually updated the package lists already.
if apt-get install -y -qq "$package" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$package" >/dev/null; }; then
  echo "install-$package: $package installed"
else
  echo "install-$package: $package could not be installed; $what will be skipped"
fi
exit 0
