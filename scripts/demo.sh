#!/usr/bin/env bash
# Set up a virtualenv in .venv (once) and run the built-in fleet demo:
# three synthetic feeds, their archivers under supervisord, one killed 3 s in.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -qq --upgrade pip
.venv/bin/python -m pip install -qq -e .
exec .venv/bin/chronicle-fleet demo "$@"
