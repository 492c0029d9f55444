#!/usr/bin/env bash
# Run Sesame's whole test suite, setting up what it needs on a fresh Debian
# machine with Go.
#
#   ./scripts/test.sh                         # everything
#   ./scripts/test.sh ./internal/passkey/...  # some packages
#   ./scripts/test.sh -run TestClassify -v ./internal/passkey/
#
# Arguments: those that name packages (starting with ./ or ../, ".", or the
# module path) replace the default package list ./...; every other argument is
# passed to `go test` as a flag, after the defaults -race -count=1 -timeout 15m,
# so yours win (for example -count=3, -timeout 30m, -race=false). `go vet` and
# the gofmt check cover the same packages (the whole module by default).
#
# What it sets up:
#   Chromium    for the browser tests, exported as SESAME_TEST_CHROME. If it is
#               not on PATH and we are root with apt-get, it is installed.
#   PostgreSQL  exported as SESAME_TEST_POSTGRES. If that is already set it is
#               used as is; otherwise a throwaway cluster is made with initdb in
#               a temporary directory, started on a free 127.0.0.1 port, and
#               stopped and removed when this script exits. It never uses a
#               server that happens to run on the machine.
#   a C compiler, which -race needs, installed with apt-get if missing.
#   systemd     for systemd-analyze, which verifies deploy/sesame.service;
#               installed with apt-get if missing.
#   oauth2-proxy for the OpenID Connect tests, built with `go install` from the
#               Go module proxy into a cache directory (not committed) and
#               exported as SESAME_TEST_OAUTH2_PROXY. If that is already set it
#               is used as is.
#
# With CI=true a missing browser or database is an error; otherwise the tests
# that need it are skipped and a warning says so.
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

in_ci() { [[ ${CI:-} == true ]]; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

if ! command -v go >/dev/null 2>&1; then
	if [[ -x /usr/local/go/bin/go ]]; then
		PATH=$PATH:/usr/local/go/bin
	else
		die "go is not on PATH"
	fi
fi

# ---------------------------------------------------------------- arguments

module=$(go list -m)
test_flags=()
packages=()
# go test flags that take a separate value ("-run Foo"), so that a value such
# as "-coverprofile ./c.out" is not taken for a package.
value_flags=' -run -skip -bench -benchtime -count -cpu -parallel -timeout -list -shuffle
 -fuzz -fuzztime -fuzzminimizetime -coverprofile -covermode -coverpkg -cpuprofile
 -memprofile -memprofilerate -blockprofile -blockprofilerate -mutexprofile
 -mutexprofilefraction -trace -outputdir -o -exec -tags -p -ldflags -gcflags
 -asmflags -mod -modfile -vet -pkgdir -toolexec -overlay -pgo -C '
expect_value=false
for arg in "$@"; do
	if $expect_value; then
		test_flags+=("$arg")
		expect_value=false
		continue
	fi
	case $arg in
	-*=*) test_flags+=("$arg") ;;
	-*)
		test_flags+=("$arg")
		# Accept both -flag and --flag spellings.
		if [[ $value_flags == *" -${arg#"${arg%%[!-]*}"} "* ]]; then
			expect_value=true
		fi
		;;
	. | ./* | .. | ../* | "$module" | "$module"/*) packages+=("$arg") ;;
	*) test_flags+=("$arg") ;;
	esac
done
whole_module=false
if ((${#packages[@]} == 0)); then
	packages=(./...)
	whole_module=true
fi

# ---------------------------------------------------------------- apt-get

apt_updated=false
can_apt() { [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; }
apt_install() {
	# Wait for a dpkg lock held by another apt run instead of failing.
	local apt=(apt-get -o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)
	if ! $apt_updated; then
		say "apt-get update"
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq || return 1
		apt_updated=true
	fi
	say "apt-get install -y $*"
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "$@"
}

# ---------------------------------------------------------------- C compiler

race=true
for flag in "${test_flags[@]}"; do
	case $flag in -race=false | --race=false | -race=0 | --race=0) race=false ;; esac
done
if $race; then
	cc=$(go env CC)
	if ! command -v "$cc" >/dev/null 2>&1 && can_apt; then
		say "no C compiler ($cc), which -race needs: installing gcc"
		apt_install gcc libc6-dev || warn "could not install gcc"
	fi
	if ! command -v "$cc" >/dev/null 2>&1; then
		die "-race needs cgo and a C compiler ($cc); install gcc or pass -race=false"
	fi
	if [[ ${CGO_ENABLED:-} == 0 ]]; then
		die "CGO_ENABLED=0 but -race needs cgo; unset it or pass -race=false"
	fi
fi

# ---------------------------------------------------------------- Chromium

find_chrome() {
	local name
	for name in chromium chromium-browser google-chrome google-chrome-stable; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
	done
	return 1
}

say "browser: looking for Chromium"
chrome=$(find_chrome || true)
if [[ -z $chrome ]] && can_apt; then
	say "Chromium not found: installing it with apt-get"
	apt_install chromium || warn "apt-get install chromium failed"
	chrome=$(find_chrome || true)
fi
if [[ -n $chrome ]]; then
	export SESAME_TEST_CHROME=$chrome
	say "browser: SESAME_TEST_CHROME=$chrome"
elif in_ci; then
	die "CI=true but no Chromium (chromium, chromium-browser or google-chrome) is available, and it could not be installed: the browser tests cannot run"
else
	warn "no Chromium found: browser tests will be skipped"
fi

# ---------------------------------------------------------------- systemd-analyze

# deploy/'s test verifies the systemd unit with systemd-analyze.
if ! command -v systemd-analyze >/dev/null 2>&1 && can_apt; then
	say "systemd-analyze not found: installing systemd"
	apt_install systemd || warn "apt-get install systemd failed"
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then
	if in_ci; then
		die "CI=true but systemd-analyze is not available and could not be installed: the systemd unit cannot be verified"
	fi
	warn "no systemd-analyze: the systemd unit test will be skipped"
fi

# ---------------------------------------------------------------- oauth2-proxy

# A real relying party for the OpenID provider's end-to-end test. Built from
# source at a pinned version; the binary is cached between runs.
oauth2_proxy_version=v7.15.6
if [[ -n ${SESAME_TEST_OAUTH2_PROXY:-} ]]; then
	say "oauth2-proxy: using SESAME_TEST_OAUTH2_PROXY=$SESAME_TEST_OAUTH2_PROXY"
else
	proxy_bin_dir=${XDG_CACHE_HOME:-$HOME/.cache}/sesame/oauth2-proxy-$oauth2_proxy_version
	if [[ ! -x $proxy_bin_dir/oauth2-proxy ]]; then
		say "oauth2-proxy: building $oauth2_proxy_version into $proxy_bin_dir"
		mkdir -p "$proxy_bin_dir"
		# GOFLAGS from the environment (e.g. -mod=...) are for this module,
		# not for installing another one.
		if ! GOFLAGS='' GOBIN=$proxy_bin_dir go install "github.com/oauth2-proxy/oauth2-proxy/v7@$oauth2_proxy_version"; then
			rm -f "$proxy_bin_dir/oauth2-proxy"
		fi
	fi
	if [[ -x $proxy_bin_dir/oauth2-proxy ]]; then
		export SESAME_TEST_OAUTH2_PROXY=$proxy_bin_dir/oauth2-proxy
		say "oauth2-proxy: SESAME_TEST_OAUTH2_PROXY=$SESAME_TEST_OAUTH2_PROXY"
	elif in_ci; then
		die "CI=true but oauth2-proxy $oauth2_proxy_version could not be built: the OpenID Connect relying-party test cannot run"
	else
		warn "oauth2-proxy could not be built: its test will be skipped"
	fi
fi

# ---------------------------------------------------------------- PostgreSQL

pg_tmp=''
pg_bin=''
pg_user=''
pg_data=''

as_pg_user() {
	# Run a command as the cluster's owner, from a directory it can enter.
	if [[ -z $pg_user ]]; then
		(cd "$pg_tmp" && "$@")
	elif command -v runuser >/dev/null 2>&1; then
		(cd "$pg_tmp" && runuser -u "$pg_user" -- "$@")
	else
		(cd "$pg_tmp" && su -s /bin/sh "$pg_user" -c "$(printf '%q ' "$@")")
	fi
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local status=$? pid
	if [[ -n $pg_tmp ]]; then
		if [[ -n $pg_data && -f $pg_data/postmaster.pid ]]; then
			say "stopping the throwaway PostgreSQL cluster"
			if ! as_pg_user "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1; then
				pid=$(head -n 1 "$pg_data/postmaster.pid" 2>/dev/null || true)
				warn "pg_ctl stop failed; killing the postmaster${pid:+ (pid $pid)}"
				if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
			fi
		fi
		rm -rf "$pg_tmp"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

find_pg_bin() {
	local dir
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return 0
	fi
	# Debian keeps the server programs out of PATH; take the newest version.
	dir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
		echo "$dir"
		return 0
	fi
	return 1
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_throwaway_postgres() {
	pg_bin=$(find_pg_bin || true)
	if [[ -z $pg_bin ]] && can_apt; then
		say "PostgreSQL server programs not found: installing postgresql with apt-get"
		apt_install postgresql || warn "apt-get install postgresql failed"
		pg_bin=$(find_pg_bin || true)
	fi
	if [[ -z $pg_bin ]]; then
		return 1
	fi

	# Unix socket paths are limited to about 100 bytes: keep the directory short.
	local base=${TMPDIR:-/tmp}
	((${#base} <= 40)) || base=/tmp
	pg_tmp=$(mktemp -d "$base/sesame-pg.XXXXXX")
	pg_data=$pg_tmp/data

	# initdb refuses to run as root: as root, the cluster belongs to a system user.
	if [[ $(id -u) -eq 0 ]]; then
		if id postgres >/dev/null 2>&1; then
			pg_user=postgres
		else
			pg_user=nobody
		fi
		chown "$pg_user" "$pg_tmp"
	fi
	chmod 700 "$pg_tmp"

	local db_user=sesame db_name=sesame_test
	say "PostgreSQL: initdb in $pg_data (programs from $pg_bin${pg_user:+, as user $pg_user})"
	if ! as_pg_user "$pg_bin/initdb" -D "$pg_data" -U "$db_user" --auth=trust -E UTF8 \
		--no-locale --no-sync >"$pg_tmp/initdb.log" 2>&1; then
		cat "$pg_tmp/initdb.log" >&2
		return 1
	fi

	local attempt port started=false
	for attempt in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + RANDOM % 30000))
		port_in_use "$port" && continue
		say "PostgreSQL: starting on 127.0.0.1:$port"
		if as_pg_user "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_tmp/postgres.log" -w -t 60 \
			-o "-p $port -k $pg_tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
			start >/dev/null; then
			started=true
			break
		fi
		# Most likely someone took the port between our check and the start.
		warn "PostgreSQL did not start on port $port (attempt $attempt); retrying on another port"
		as_pg_user "$pg_bin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
	done
	if ! $started; then
		cat "$pg_tmp/postgres.log" >&2 || true
		return 1
	fi

	if ! as_pg_user "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U "$db_user" "$db_name"; then
		return 1
	fi
	export SESAME_TEST_POSTGRES="postgres://$db_user@127.0.0.1:$port/$db_name?sslmode=disable"
	say "PostgreSQL: SESAME_TEST_POSTGRES=$SESAME_TEST_POSTGRES (removed on exit)"
}

if [[ -n ${SESAME_TEST_POSTGRES:-} ]]; then
	# Show it without a password.
	say "PostgreSQL: using SESAME_TEST_POSTGRES=$(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$SESAME_TEST_POSTGRES")"
else
	say "PostgreSQL: starting a throwaway cluster"
	if ! start_throwaway_postgres; then
		unset SESAME_TEST_POSTGRES
		if in_ci; then
			die "CI=true but PostgreSQL could not be started (initdb/pg_ctl missing or failing): the PostgreSQL tests cannot run"
		fi
		warn "no PostgreSQL: PostgreSQL tests will be skipped"
	fi
fi

# ---------------------------------------------------------------- checks and tests

say "go vet ${packages[*]}"
go vet "${packages[@]}"

say "gofmt -l"
if $whole_module; then
	unformatted=$(gofmt -l .)
else
	mapfile -t dirs < <(go list -f '{{.Dir}}' "${packages[@]}")
	unformatted=''
	if ((${#dirs[@]} > 0)); then
		unformatted=$(find "${dirs[@]}" -maxdepth 1 -name '*.go' -type f -print0 | xargs -0 -r gofmt -l)
	fi
fi
if [[ -n $unformatted ]]; then
	printf '%s\n' "$unformatted" >&2
	die "these files are not gofmt-formatted (run gofmt -w on them)"
fi

test_cmd=(go test -race -count=1 -timeout 15m "${test_flags[@]}" "${packages[@]}")
say "${test_cmd[*]}"
status=0
"${test_cmd[@]}" || status=$?

# The end-to-end suite runs a second time with every Sesame instance on
# PostgreSQL, so both backends are proven through the browser and real
# clients, not only by the storage conformance suite.
if $whole_module || [[ " ${packages[*]} " == *" ./e2e"* ]]; then
	if [[ -n ${SESAME_TEST_POSTGRES:-} ]]; then
		e2e_cmd=(go test -race -count=1 -timeout 15m "${test_flags[@]}" ./e2e/...)
		say "SESAME_E2E_DATABASE=postgres ${e2e_cmd[*]}"
		SESAME_E2E_DATABASE=postgres "${e2e_cmd[@]}" || status=$?
	elif in_ci; then
		die "CI=true but no PostgreSQL for the end-to-end suite"
	else
		warn "no PostgreSQL: the end-to-end suite ran on SQLite only"
	fi
fi
if ((status == 0)); then
	say "all tests passed"
else
	say "tests FAILED (exit status $status)"
fi
exit "$status"
