#!/usr/bin/env bash
# Full passkey sign-ins over HTTP against 1 and then 3 Sesame instances that
# share one PostgreSQL database, reporting the CPU used by the instances and
# by PostgreSQL itself per sign-in (docs/performance.md, issue 14).
#
#   ./scripts/bench-pg.sh                       # 1 and 3 instances, 20 s each
#   COUNTS="1 2 3" DURATION=30s ./scripts/bench-pg.sh
#   SESAME_BENCH_DATABASE=postgres://... ./scripts/bench-pg.sh
#
# The database (default sesame_bench on the local server) is created when
# missing and reused: the bench users and their passkeys are provisioned
# once. Requests go to the instances in turn, so most ceremonies begin on
# one instance and finish on another, as behind a load balancer.
# PostgreSQL's CPU is read from /proc for every process named postgres, so
# run this on the database's machine.
set -euo pipefail
cd "$(dirname "$0")/.."

db=${SESAME_BENCH_DATABASE:-postgres://postgres@127.0.0.1:5432/sesame_bench?sslmode=disable}
counts=${COUNTS:-1 3}
duration=${DURATION:-20s}
users=${USERS:-200}
concurrency=${CONCURRENCY:-16}
bin=${SESAME_BIN:-$(mktemp -d)/sesame}
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -x "$bin" ]; then
	echo "building $bin"
	go build -o "$bin" ./cmd/sesame
fi
if [ -z "${SESAME_BENCH_DATABASE:-}" ] && command -v psql >/dev/null; then
	psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'sesame_bench'" | grep -q 1 ||
		psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE sesame_bench'
fi
export SESAME_SECRET=${SESAME_SECRET:-$(head -c 32 /dev/urandom | base64)} # the instances share it

# ticks PID... prints the CPU clock ticks (user + system) the processes used.
ticks() {
	local sum=0 p f
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		f=$(sed 's/^.*) //' "/proc/$p/stat")
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
pg_pids() { pgrep -x postgres || true; }
hz=$(getconf CLK_TCK)

for n in $counts; do
	pids=()
	targets=()
	for i in $(seq "$n"); do
		port=$((18300 + i))
		"$bin" serve --database "$db" --data-dir "$work/i$i" --listen "127.0.0.1:$port" \
			--url http://localhost:18301 --rate-limit 0 >"$work/serve-$i.log" 2>&1 &
		pids+=($!)
		targets+=("http://127.0.0.1:$port")
	done
	for t in "${targets[@]}"; do
		for _ in $(seq 100); do curl -sf "$t/readyz" >/dev/null && break; sleep 0.1; done
	done
	# Provision (first run) and warm up, then measure with the CPU read
	# around the measured run only.
	"$bin" bench --database "$db" --data-dir "$work/bench" --url http://localhost:18301 \
		--target "$(IFS=,; echo "${targets[*]}")" --users "$users" --concurrency "$concurrency" \
		--duration 3s --warmup 0s --progress 1h >/dev/null
	s0=$(ticks "${pids[@]}"); p0=$(ticks $(pg_pids))
	out=$("$bin" bench --database "$db" --data-dir "$work/bench" --url http://localhost:18301 \
		--target "$(IFS=,; echo "${targets[*]}")" --users "$users" --concurrency "$concurrency" \
		--duration "$duration" --warmup 0s --progress 1h)
	s1=$(ticks "${pids[@]}"); p1=$(ticks $(pg_pids))
	count=$(echo "$out" | awk '/sign-ins:/ {print $2}')
	measured=$(echo "$out" | sed -n 's/^Results (\([0-9.]*\)s measured.*/\1/p')
	echo "== $n instance(s), $concurrency concurrent, $duration (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "$out" | grep -E 'sign-ins:|errors:|p50' | head -3
	awk -v s="$((s1 - s0))" -v p="$((p1 - p0))" -v hz="$hz" -v n="$count" -v el="$measured" 'BEGIN {
		printf "  Sesame instances: %.2f cores, %.0f us per sign-in\n", s / hz / el, s / hz / n * 1e6
		printf "  PostgreSQL:       %.2f cores, %.0f us per sign-in\n", p / hz / el, p / hz / n * 1e6
	}'
	for p in "${pids[@]}"; do kill "$p"; done
	wait "${pids[@]}" 2>/dev/null || true
done
