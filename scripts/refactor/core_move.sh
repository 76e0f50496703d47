#!/usr/bin/env bash
# One-off: rewrite module paths after the move of the shared helpers from portal/ to core/.
set -euo pipefail
files=$(git ls-files '*.py' '*.html' '*.txt' '*.cfg' '*.toml' '*.conf' 'Makefile' '*.md' '*.sh' | grep -v '^scripts/refactor/')
sed -i -E \
  -e 's/\bportal\.exceptions\b/core.errors/g' \
  -e 's/\bportal\.(ip_networks|ip|ids|text|localcache|ratelimit|csv_export|charts|forms|models|renderers|api|db)\b/core.\1/g' \
  -e 's/^(\s*)from portal import (localcache|ratelimit)(, (localcache|ratelimit))?$/\1from core import \2\3/' \
  $files
