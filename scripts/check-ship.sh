#!/usr/bin/env bash
# Checks what ships (run by `make test-ship`, part of `make test`):
#   - scripts/release.sh builds all six binaries, SHA256SUMS verifies;
#   - the linux binaries are static (CGO_ENABLED=0) and --version prints
#     the stamped version;
#   - docker-compose accepts docker-compose.yml with example.env as .env;
#   - the workflow files are valid YAML;
#   - the binary starts from a fresh empty folder with only ADMIN_KEY
#     set, `catfish healthcheck` passes, data/ appears, SIGTERM exits 0;
#   - example.env with every default written out is accepted as .env.
# No Docker engine is needed (none runs on the CI machines): the Dockerfile
# is only linted here. Everything listens on 127.0.0.1; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GO=${GO:-go}
VERSION=v0.0.0-shipcheck
TARGETS="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"

passed=0
ok() {
	passed=$((passed + 1))
	echo "ship: ok: $*"
}
fail() {
	echo "ship: FAIL: $*" >&2
	echo "ship: $passed passed, 1 failed"
	exit 1
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# as_root runs a command as root: directly when root, else with sudo.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
	command -v apt-get >/dev/null || fail "no apt-get: install $* by hand"
	echo "ship: installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq -o DPkg::Lock::Timeout=300 >/dev/null ||
		fail "apt-get update"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null ||
		fail "apt-get install $*"
}

# --- release: six binaries, checksums, static, version -------------------
DIST=$WORK/dist
VERSION=$VERSION DIST=$DIST GO=$GO scripts/release.sh >"$WORK/release.log" 2>&1 ||
	{ cat "$WORK/release.log" >&2; fail "scripts/release.sh"; }
for t in $TARGETS; do
	os=${t%/*} arch=${t#*/} ext=
	[ "$os" = windows ] && ext=.exe
	f=$DIST/catfish-$VERSION-$os-$arch$ext
	[ -s "$f" ] || fail "missing $f"
	"$GO" version -m "$f" | grep -q "CGO_ENABLED=0" || fail "$f: not built with CGO_ENABLED=0"
	"$GO" version -m "$f" | grep -q -- "-trimpath=true" || fail "$f: not built with -trimpath"
	"$GO" version -m "$f" | grep -q "GOOS=$os" || fail "$f: not GOOS=$os"
	"$GO" version -m "$f" | grep -q "GOARCH=$arch" || fail "$f: not GOARCH=$arch"
done
ok "release.sh built $(echo $TARGETS | wc -w) targets, CGO_ENABLED=0, -trimpath"
[ "$(wc -l <"$DIST/SHA256SUMS")" -eq 6 ] || fail "SHA256SUMS does not list 6 files"
(cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || fail "sha256sum -c SHA256SUMS"
ok "SHA256SUMS verifies"
if command -v file >/dev/null; then
	for arch in amd64 arm64; do
		f=$DIST/catfish-$VERSION-linux-$arch
		file "$f" | grep -q "statically linked" || fail "file $f: $(file -b "$f")"
	done
	ok "file: linux binaries are statically linked"
fi

host_os=$("$GO" env GOHOSTOS) host_arch=$("$GO" env GOHOSTARCH)
[ "$host_os" = linux ] || fail "these checks run the linux binary; this is $host_os"
BIN=$DIST/catfish-$VERSION-linux-$host_arch
got=$("$BIN" --version)
[ "$got" = "catfish $VERSION" ] || fail "--version printed '$got', want 'catfish $VERSION'"
ok "--version prints the stamped version ($got)"

# --- Dockerfile: no engine here, so check the lines that matter -----------
for want in '^FROM golang:1\.26' '^FROM scratch' 'CGO_ENABLED=0' '-trimpath' 'main\.version=\$\{VERSION\}' \
	'ca-certificates\.crt' '^USER 65532:65532' '^ENV DATA_DIR=/data PORT=8080' '^VOLUME /data' \
	'--chown=65532:65532 .* /data' '^EXPOSE 8080' '^HEALTHCHECK .*CMD \["/catfish", "healthcheck"\]' \
	'^ENTRYPOINT \["/catfish"\]'; do
	grep -Eq -- "$want" Dockerfile || fail "Dockerfile has no line matching $want"
done
grep -q '"time/tzdata"' main.go || fail "main.go does not embed time/tzdata"
for want in '^\.git$' '^\.env$' '^data$' '^dist$'; do
	grep -Eq "$want" .dockerignore || fail ".dockerignore does not exclude $want"
done
ok "Dockerfile and .dockerignore have the lines that matter"

# --- docker-compose accepts the compose file with example.env ------------
if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null; then
	compose=(docker-compose)
else
	apt_install docker-compose
	compose=(docker-compose)
fi
C=$WORK/compose
mkdir -p "$C"
cp docker-compose.yml Dockerfile .dockerignore "$C/"
cp example.env "$C/.env"
(cd "$C" && "${compose[@]}" -f docker-compose.yml config) >"$WORK/compose.out" 2>&1 ||
	{ cat "$WORK/compose.out" >&2; fail "${compose[*]} config rejects docker-compose.yml with example.env"; }
for want in 'image: catfish:latest' 'restart: unless-stopped' 'published: "?8080"?' 'target: 8080' \
	"PORT: ['\"]?8080" 'DATA_DIR: /data' '/data'; do
	grep -Eq -- "$want" "$WORK/compose.out" || { cat "$WORK/compose.out" >&2; fail "compose config has no $want"; }
done
# PORT in .env picks the host port only; the container keeps 8080.
sed -i 's/^PORT=.*/PORT=18123/' "$C/.env"
(cd "$C" && "${compose[@]}" -f docker-compose.yml config) >"$WORK/compose.out" 2>&1 ||
	{ cat "$WORK/compose.out" >&2; fail "${compose[*]} config with PORT=18123"; }
grep -Eq 'published: "?18123"?' "$WORK/compose.out" && grep -Eq "PORT: ['\"]?8080" "$WORK/compose.out" ||
	{ cat "$WORK/compose.out" >&2; fail "PORT=18123 in .env should map host 18123 to container 8080"; }
ok "${compose[*]} config accepts docker-compose.yml with example.env"

# --- workflow files are valid YAML ---------------------------------------
PY=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then
		PY=$p
		break
	fi
done
if [ -z "$PY" ]; then
	apt_install python3-yaml
	PY=/usr/bin/python3
fi
for f in .github/workflows/ci.yml .github/workflows/release.yml docker-compose.yml; do
	"$PY" - "$f" <<'EOF' || fail "$f is not valid YAML for its kind"
import sys, yaml
path = sys.argv[1]
d = yaml.safe_load(open(path))
assert isinstance(d, dict), "not a mapping"
if "workflows" in path:
    on = d.get("on", d.get(True))  # YAML 1.1 reads a bare `on` as true
    assert on, "no on:"
    assert d.get("jobs"), "no jobs:"
    for name, job in d["jobs"].items():
        assert job.get("runs-on") and job.get("steps"), name + ": no runs-on or steps"
else:
    assert d.get("services"), "no services:"
EOF
done
ok "workflow files are valid YAML"

# --- the binary starts from a fresh empty folder ---------------------------
# free_port prints a port that is free on 127.0.0.1 right now.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
# start DIR ENV...: starts the binary in DIR with only ENV (HOST pins it to
# loopback), waits up to 20 s for `catfish healthcheck`, sets PID.
start() {
	local dir=$1
	shift
	(cd "$dir" && exec env -i "$@" "$BIN") >"$dir.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for _ in $(seq 1 80); do
		if (cd "$dir" && env -i "$@" "$BIN" healthcheck) 2>/dev/null; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || { cat "$dir.log" >&2; fail "catfish exited at start"; }
		sleep 0.25
	done
	cat "$dir.log" >&2
	fail "catfish healthcheck did not pass within 20 s"
}
# stop: SIGTERM, wait up to 40 s, want exit code 0.
stop() {
	local dir=$1
	kill -TERM "$PID"
	for _ in $(seq 1 160); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.25
	done
	kill -0 "$PID" 2>/dev/null && { cat "$dir.log" >&2; fail "catfish still running 40 s after SIGTERM"; }
	local rc=0
	wait "$PID" || rc=$?
	PIDS=()
	[ "$rc" = 0 ] || { cat "$dir.log" >&2; fail "catfish exited $rc after SIGTERM, want 0"; }
}

F=$WORK/fresh
mkdir -p "$F"
port=$(free_port)
start "$F" ADMIN_KEY=sk-shipcheck HOST=127.0.0.1 PORT="$port"
ok "fresh empty folder, only ADMIN_KEY (+ loopback PORT): catfish healthcheck passes"
[ -d "$F/data" ] || fail "no data/ in the fresh folder after start"
[ ! -e "$F/data/admin_key" ] || fail "data/admin_key written although ADMIN_KEY was set"
stop "$F"
ok "data/ created; SIGTERM exits 0"
if (cd "$F" && env -i HOST=127.0.0.1 PORT="$port" "$BIN" healthcheck) 2>/dev/null; then
	fail "catfish healthcheck passed with the server stopped"
fi
ok "catfish healthcheck exits non-zero with the server stopped"

# example.env, every commented default written out, is a valid .env; with
# ADMIN_KEY empty a key is generated and kept in data/admin_key.
E=$WORK/example
mkdir -p "$E"
sed -E 's/^#([A-Z_]+=)/\1/' example.env | grep -v '_PROXY=' >"$E/.env"
port=$(free_port)
start "$E" HOST=127.0.0.1 PORT="$port"
[ -s "$E/data/admin_key" ] || fail "ADMIN_KEY empty: no data/admin_key generated"
grep -q "ADMIN_KEY=$(cat "$E/data/admin_key")" "$E.log" || fail "the generated ADMIN_KEY was not printed"
stop "$E"
ok "example.env with every default set is accepted; empty ADMIN_KEY is generated"

echo "ship: $passed passed, 0 failed"
