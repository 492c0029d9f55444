#!/usr/bin/env bash
# Soak test: measure the peak, then run 10 minutes at 80% of it, reporting
# errors (from sesame bench) and the server's resident memory over time.
# Not run in CI; figures go to docs/performance.md.
#
#   ./scripts/soak.sh                      # SQLite, 10 minutes
#   SOAK_MINUTES=2 ./scripts/soak.sh
#   SESAME_DATABASE=postgres://... ./scripts/soak.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

minutes=${SOAK_MINUTES:-10}
port=${SOAK_PORT:-18090}
url=http://localhost:$port
work=$(mktemp -d /tmp/sesame-soak.XXXXXX)
bin=$work/sesame
data=$work/data
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "==> building"
go build -o "$bin" ./cmd/sesame

echo "==> starting sesame serve on $url (${SESAME_DATABASE:+PostgreSQL}${SESAME_DATABASE:-SQLite})"
"$bin" serve --data-dir "$data" --listen "127.0.0.1:$port" --url "$url" --rate-limit 0 >"$work/serve.out" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }

echo "==> measuring the peak (15 s)"
peak=$("$bin" bench --data-dir "$data" --url "$url" --users 200 --concurrency 16 --duration 15s --warmup 3s |
	sed -n 's#^  sign-ins: *[0-9]* complete, \([0-9.]*\)/s$#\1#p')
if [[ -z $peak ]]; then
	echo "could not read the peak rate from sesame bench" >&2
	exit 1
fi
target=$(awk -v p="$peak" 'BEGIN {printf "%.0f", p * 0.8}')
echo "==> peak ${peak}/s; soaking ${minutes} min at ${target}/s; RSS at start $(rss) kB"

(
	while kill -0 "$server" 2>/dev/null; do
		printf '    %s  server RSS %s kB\n' "$(date +%H:%M:%S)" "$(rss)"
		sleep 30
	done
) &
sampler=$!
status=0
"$bin" bench --data-dir "$data" --url "$url" --users 200 --concurrency 32 --rate "$target" \
	--duration "${minutes}m" --warmup 0s --progress 30s --server-pid "$server" || status=$?
kill "$sampler" 2>/dev/null || true
echo "==> RSS at end $(rss) kB; bench exit status $status"
exit "$status"
