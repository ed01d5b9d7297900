#!/usr/bin/env bash
# Installs Debian's nftables for the tests that drop packets between network
# namespaces (one-way and lossy links), when it is missing and this machine
# lets us (root with apt-get). Without it those tests are skipped, with the
# reason; nothing else needs it.
set -u
if command -v nft >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-nftables: not root with apt-get; the link-fault tests will be skipped (apt-get install nftables to run them)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# install-browser.sh has usually updated the package lists already.
if apt-get install -y -qq nftables >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nftables >/dev/null; }; then
  echo "install-nftables: nftables installed"
else
  echo "install-nftables: nftables could not be installed; the link-fault tests will be skipped"
fi
exit 0
