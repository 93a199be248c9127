#!/bin/sh
# Regenerates the build system from configure.ac and Makefile.am (the same as
# `autoreconf -fi`: automake installs the auxiliary files, tap-driver.sh too).
set -e
cd "$(dirname "$0")"
autoreconf --force --install --warnings=no-portability
