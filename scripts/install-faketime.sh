#!/usr/bin/env bash
# Debian's faketime (libfaketime), for the clock-skew tests with the real programs and npm run faults.
exec bash "$(dirname "$0")/install-debian.sh" faketime 'ls /usr/lib/*-linux-gnu/faketime/libfaketime.so.1' 'the clock-skew tests with the real programs'
