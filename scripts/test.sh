#!/usr/bin/env bash
# Set up a virtualenv in .venv (once), check the code (ruff, mypy), and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# promtool (Debian's prometheus package) checks ops/prometheus/alerts.yml in the tests.
if ! command -v promtool >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
        || { echo "scripts/test.sh: install promtool (Debian: apt-get install prometheus)" >&2; exit 1; }
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
