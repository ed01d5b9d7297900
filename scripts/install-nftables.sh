#!/usr/bin/env bash
# Debian's nftables, for the tests that drop packets between network namespaces (one-way and lossy links).
exec bash "$(dirname "$0")/install-debian.sh" nftables 'command -v nft' 'the link-fault tests'
