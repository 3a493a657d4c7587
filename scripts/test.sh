#!/usr/bin/env bash
# The test command: installs everything the suite needs (the embedded model included), starts
# PostgreSQL for the queue tests, and runs the whole suite. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  if ! command -v chromium >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium postgresql >/dev/null
  fi
fi

# llama-cpp-python compiles from source; LLAVA_BUILD=OFF skips the multimodal part we don't use.
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" python3 -m pip install -q -e '.[embedded,test]'

if command -v pg_ctlcluster >/dev/null || command -v pg_ctl >/dev/null; then
  REVIEWER_TEST_POSTGRES_URL="$(bash scripts/start_postgres.sh | tail -1)"
  export REVIEWER_TEST_POSTGRES_URL
fi

python3 -m pytest -q -rs "$@"
