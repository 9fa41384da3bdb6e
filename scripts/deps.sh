#!/usr/bin/env bash
# Installs what the tests need when it is missing: Debian's Chromium and
# CJK fonts for the browser tests (never a downloaded browser), and the
# e2e package's npm dependencies. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
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

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "deps: node and npm are needed for the e2e tests (Node 20 or later)" >&2
	exit 1
fi
# npm ci is exact; skip it when node_modules was installed from this lock.
if [ ! -f e2e/node_modules/.package-lock.json ] || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
	echo "deps: npm ci in e2e/"
	(cd e2e && npm ci --no-audit --no-fund)
fi
