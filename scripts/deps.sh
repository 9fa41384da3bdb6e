#!/usr/bin/env bash
# Installs what the tests need when it is missing: Debian's Chromium and
# CJK fonts for the browser tests (never a downloaded browser), unshare
# and ip (util-linux, iproute2) to run Claude Code and Codex in a
# loopback-only network namespace, promtool
# (Debian's prometheus package) for the /metrics check, and the e2e
# package's npm dependencies. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	echo "deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Update the package lists only when a package cannot be found.
	if ! $sudo apt-get install -y -q "${need[@]}"; then
		$sudo apt-get update -q
		$sudo apt-get install -y -q "${need[@]}"
	fi
fi

# promtool, which checks the live /metrics output (engine/metrics_test.go),
# comes with Debian's prometheus package. Only promtool is used: the
# package's service must not start, so a policy-rc.d refuses it for the
# install (unless the machine already has one, as containers do), and the
# recommended node exporter is left out.
if ! command -v promtool >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	echo "deps: installing prometheus (for promtool only; its service is not started)"
	export DEBIAN_FRONTEND=noninteractive
	policy=/usr/sbin/policy-rc.d
	own_policy=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# scripts/deps.sh: no service starts while it installs packages\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
		own_policy=1
		trap '$sudo rm -f "$policy"' EXIT
	fi
	status=0
	if ! $sudo apt-get install -y -q --no-install-recommends prometheus; then
		$sudo apt-get update -q
		$sudo apt-get install -y -q --no-install-recommends prometheus || status=$?
	fi
	if [ -n "$own_policy" ]; then
		$sudo rm -f "$policy"
		trap - EXIT
	fi
	if [ "$status" -ne 0 ]; then
		echo "deps: installing prometheus failed" >&2
		exit "$status"
	fi
	# Where systemd enabled the unit, keep it from starting at boot too.
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		$sudo systemctl disable prometheus >/dev/null 2>&1 || true
	fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "deps: node and npm are needed for the e2e tests (Node 20 or later)" >&2
	exit 1
fi
# npm ci is exact; skip it when node_modules was installed from this lock.
if [ ! -f e2e/node_modules/.package-lock.json ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
	echo "deps: npm ci in e2e/"
	(cd e2e && npm ci --no-audit --no-fund)
fi
