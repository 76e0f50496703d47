#!/usr/bin/env bash
# The local run behind `make run`: migrate, create the demo account once, then the web server and
# a real Celery worker with embedded beat. Ctrl-C (or SIGTERM) stops all of them.
# Defaults need no server: SQLite, on-disk Celery broker, the `console` SMS backend (2FA codes
# and test SMS are printed here). Any setting can be overridden from the environment or `.env`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$PY" manage.py migrate --noinput
"$PY" manage.py demo_account

pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
}
trap stop INT TERM EXIT

"$PY" -m celery -A portal worker --beat --loglevel INFO --concurrency 2 &
pids+=($!)
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
echo "SMS Portal: http://$HOST:$PORT/  (Ctrl-C stops the web server and the worker)"
# When either process ends, stop the other one too.
wait -n
