#!/usr/bin/env bash
# The test command: installs what the suite needs (the embedded model included; Chromium and
# PostgreSQL from Debian when run as root), starts PostgreSQL for the queue tests, runs the suite.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && { ! command -v chromium >/dev/null || ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null
fi

# llama-cpp-python compiles from source; LLAVA_BUILD=OFF skips the multimodal part we don't use.
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" python3 -m pip install -q -e '.[embedded,test]'

if [ "$(id -u)" = 0 ] && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  REVIEWER_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh | tail -n 1)"
  export REVIEWER_TEST_POSTGRES_URL
fi

REVIEWER_STRICT_TESTS=1 python3 -m pytest -q -rs "$@"
