#!/usr/bin/env bash
# The built binary: --help, exit codes, and the shipped pipeline.conf validates.
set -euo pipefail
bin=$1
"$bin" --help | grep -q "Usage: iak-stream COMMAND"
"$bin" config >/dev/null
set +e
"$bin" config --set train.batch_mx=3 2>/dev/null; status=$?
set -e
[ "$status" -eq 2 ] || { echo "expected exit 2 for an unknown key, got $status"; exit 1; }
