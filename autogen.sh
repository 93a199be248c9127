#!/bin/sh
# Regenerates the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install --warnings=no-portability
# GTest speaks TAP; automake ships the driver but does not install it itself.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/
