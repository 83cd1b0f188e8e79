#!/usr/bin/env bash
# The shipped Prometheus rules load and pass their unit tests.
set -euo pipefail
cd "$(dirname "$0")/../../deploy/prometheus"
promtool check rules iak-stream.rules.yml
promtool test rules iak-stream.rules.test.yml
