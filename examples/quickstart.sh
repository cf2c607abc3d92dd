#!/usr/bin/env bash
# examples/quickstart.sh: the README's first command. On a machine with Go, root
# and a Debian mirror in its apt sources, it builds whittle from this checkout,
# makes the base images the Go example needs with `whittle base` (no registry,
# no Docker), builds the example three ways and prints the sizes side by side:
#
#   hello:single      examples/go/Dockerfile.single  everything in golang:bookworm
#   hello:debian      examples/go/Dockerfile.debian  multi-stage, final stage debian:bookworm
#   hello:distroless  examples/go/Dockerfile         multi-stage, final stage distroless static
#
# The bases come from Debian's signed archive (the host's apt sources):
#   golang:bookworm                     whittle base debian --include golang-go,ca-certificates
#   debian:bookworm                     whittle base debian
#   gcr.io/distroless/static-debian12   whittle base static
#
# Environment: WHITTLE_ROOT (the store, default whittle's: /var/lib/whittle
# for root), WHITTLE_BIN (where the binary goes, default $TMPDIR/whittle-quickstart).
# Run it again and everything comes from the store's cache.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bindir=${WHITTLE_BIN:-${TMPDIR:-/tmp}/whittle-quickstart}
mkdir -p "$bindir"

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run as root (the debian base installs packages with dpkg in whittle's sandbox)" >&2
  exit 1
fi
command -v go >/dev/null || { echo "quickstart: needs Go to build whittle" >&2; exit 1; }

step() { printf '\n== %s\n' "$*" >&2; }

step "building whittle"
(cd "$repo" && go build -o "$bindir/whittle" ./cmd/whittle)
w() {
  if [ -n "${WHITTLE_ROOT:-}" ]; then
    "$bindir/whittle" --root "$WHITTLE_ROOT" "$@"
  else
    "$bindir/whittle" "$@"
  fi
}

step "base images from Debian packages"
w base debian --include golang-go,ca-certificates -t golang:bookworm --progress plain
w base debian -t debian:bookworm --progress plain
w base static -t gcr.io/distroless/static-debian12 --progress plain

step "the Go example, three ways"
ex="$repo/examples/go"
w build --progress plain -f "$ex/Dockerfile.single" -t hello:single "$ex"
w build --progress plain -f "$ex/Dockerfile.debian" -t hello:debian "$ex"
w build --progress plain -f "$ex/Dockerfile" -t hello:distroless "$ex"

step "smoke test"
w run hello:distroless -selftest && echo "hello:distroless -selftest: ok" >&2

# field prints a top-level number of `whittle analyze --format json`.
field() { sed -n "s/^  \"$2\": \([0-9]*\),*$/\1/p" <<<"$1" | head -n 1; }
mb() { awk -v n="$1" 'BEGIN { printf "%.1f MB", n / 1e6 }'; }

# SIZE is the bytes of the files (what `docker images` shows), COMPRESSED the
# layers' blobs (what a pull transfers).
printf '\n%-18s %-31s %12s %12s %8s\n' IMAGE DOCKERFILE SIZE COMPRESSED FILES
for t in single debian distroless; do
  case $t in
    single) f=Dockerfile.single ;;
    debian) f=Dockerfile.debian ;;
    distroless) f=Dockerfile ;;
  esac
  j=$(w analyze --format json "hello:$t")
  printf '%-18s %-31s %12s %12s %8s\n' "hello:$t" "examples/go/$f" \
    "$(mb "$(field "$j" totalFileBytes)")" "$(mb "$(field "$j" compressedSize)")" "$(field "$j" files)"
done
