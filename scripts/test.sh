#!/usr/bin/env bash
# Runs every test: installs the third-party programs the tests use, then builds and verifies all
# modules. Extra arguments go to Maven (for example -pl crypto).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
exec mvn -B verify "$@"
