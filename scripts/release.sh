#!/usr/bin/env bash
# Builds the release binaries into dist/ (or $DIST):
#   dist/catfish-<version>-<os>-<arch>[.exe]  for linux, darwin, windows x amd64, arm64
#   dist/SHA256SUMS                          (check with: sha256sum -c SHA256SUMS)
# Static (CGO_ENABLED=0), -trimpath, version stamped in: `catfish --version`
# prints it. The version is $VERSION, else `git describe`, else "dev".
# Usage: scripts/release.sh   or   VERSION=v1.2.3 make release
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
case $VERSION in
*[!A-Za-z0-9._+-]*) echo "release: VERSION=$VERSION: use letters, digits and . _ + -" >&2; exit 2 ;;
esac
DIST=${DIST:-dist}
TARGETS=${TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"}

rm -rf "$DIST"
mkdir -p "$DIST"
for target in $TARGETS; do
	os=${target%/*} arch=${target#*/}
	ext=
	[ "$os" = windows ] && ext=.exe
	out="$DIST/catfish-$VERSION-$os-$arch$ext"
	echo "release: $out"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$out" .
done
(cd "$DIST" && sha256sum catfish-* >SHA256SUMS)
echo "release: $VERSION in $DIST/"
cat "$DIST/SHA256SUMS"
