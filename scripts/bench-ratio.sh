#!/usr/bin/env bash
# Run the hot-path benchmarks (passkey begin and finish, a whole sign-in,
# session lookup, the sign-in writes on SQLite, token exchange, refresh,
# userinfo, Conditional Access
# evaluation) together with a raw P-256 verification in one run, and print
# each as a ratio to that verification. Ratios measured in the same run hold
# up on a shared, loaded machine where absolute figures do not.
#
#   ./scripts/bench-ratio.sh                    # all of them, -benchtime 1s
#   BENCHTIME=3s COUNT=3 ./scripts/bench-ratio.sh
#   BENCH='SignIn|Authenticate' ./scripts/bench-ratio.sh ./internal/signin
#   PROFILE=/tmp/prof ./scripts/bench-ratio.sh ./internal/signin   # CPU + alloc profiles
#
# Package arguments replace the default list. BENCH is the -bench pattern
# (P256Verify is always added). Each package's test binary measures its own
# P-256 verification: the ratio column divides a benchmark's CPU time per
# operation (cpu-ns/op, every thread of the process: driver, GC) by that
# package's P256Verify cpu-ns/op, or ns/op by ns/op where a benchmark has no
# CPU figure. The raw `go test` output is kept in $OUT (default a temporary
# file) for benchstat.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=("$@")
if [ ${#pkgs[@]} -eq 0 ]; then
	pkgs=(./internal/passkey ./internal/signin ./internal/store/sqlite ./internal/oidc ./internal/access)
fi
bench=${BENCH:-.}
benchtime=${BENCHTIME:-1s}
count=${COUNT:-1}
out=${OUT:-$(mktemp /tmp/bench-ratio.XXXXXX)}

echo "# $(date -u +%FT%TZ)  $(nproc) cores  load:$(uptime | sed 's/.*load average://')"
echo "# go test -run '^\$' -bench '($bench)|P256Verify' -benchmem -benchtime $benchtime -count $count ${pkgs[*]}"
: > "$out"
for p in "${pkgs[@]}"; do
	extra=()
	if [ -n "${PROFILE:-}" ]; then
		mkdir -p "$PROFILE"
		name=$(basename "$p")
		extra=(-cpuprofile "$PROFILE/$name.cpu" -memprofile "$PROFILE/$name.mem" -o "$PROFILE/$name.test")
	fi
	go test -run '^$' -bench "($bench)|P256Verify" -benchmem -benchtime "$benchtime" -count "$count" "${extra[@]}" "$p" >> "$out"
done
echo "# load after: $(uptime | sed 's/.*load average://')"
echo "# raw output: $out"

awk '
/^pkg: / { pkg = $2; sub(/.*\/internal\/(store\/)?/, "", pkg); next }
# zitadel/oidc logs to stdout while a benchmark runs, which can split a
# result line: keep the name until the figures come.
/^Benchmark/ && !/ns\/op/ { pending = $1; next }
pending != "" && /^[ \t]*[0-9]+[ \t]+[0-9.]+ ns\/op/ { $0 = pending " " $0; pending = "" }
/^Benchmark/ && /ns\/op/ {
	name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
	ns = cpu = allocs = bytes = ""
	for (i = 3; i < NF; i++) {
		if ($(i+1) == "ns/op") ns = $i
		if ($(i+1) == "cpu-ns/op") cpu = $i
		if ($(i+1) == "allocs/op") allocs = $i
		if ($(i+1) == "B/op") bytes = $i
	}
	n++; P[n] = pkg; N[n] = name; NS[n] = ns; CPU[n] = cpu; AL[n] = allocs; BY[n] = bytes
	if (name == "P256Verify") { rns[pkg] += ns; rcpu[pkg] += cpu; rn[pkg]++ }
}
END {
	printf "%-10s %-42s %12s %12s %9s %10s %9s\n", "package", "benchmark", "ns/op", "cpu-ns/op", "x P-256", "B/op", "allocs/op"
	for (i = 1; i <= n; i++) {
		p = P[i]; ratio = "-"
		if (rn[p] > 0 && CPU[i] != "" && rcpu[p] > 0) ratio = sprintf("%.2f", CPU[i] / (rcpu[p] / rn[p]))
		else if (rn[p] > 0 && NS[i] != "" && rns[p] > 0) ratio = sprintf("%.2f~", NS[i] / (rns[p] / rn[p]))
		printf "%-10s %-42s %12s %12s %9s %10s %9s\n", p, N[i], NS[i], (CPU[i] == "" ? "-" : CPU[i]), ratio, BY[i], AL[i]
	}
	print "# x P-256: cpu-ns/op over the package P256Verify cpu-ns/op (~: ns/op over ns/op)"
}' "$out"
