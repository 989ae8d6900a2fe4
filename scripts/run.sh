#!/usr/bin/env bash
# Installs dependencies, builds, and runs warpdns on its embedded default:
# socket mode, the sample zone example.org on 127.0.0.1:1053.
#   dig @127.0.0.1 -p 1053 www.example.org
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec ./build/control/warpdns "$@"
