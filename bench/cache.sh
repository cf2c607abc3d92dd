#!/usr/bin/env bash
# bench/cache.sh: what the shared build cache (--cache-to / --cache-from through a registry) buys
# a throw-away CI runner. Per case, whittle only, median of $RUNS runs (hyperfine):
#
#   cold     --no-cache in a store holding the bases: every step runs
#   warm     the same build again in that store: every step is a local hit
#   export   a warm build with --cache-to type=registry,mode=max to a new repository each run:
#            the cost of uploading the cache (blobs compressed once, then reused)
#   shared   an empty store (the bases only, as a fresh runner pulls them anyway) with
#            --cache-from the registry: every step a hit, layers fetched and verified
#   shared+run  the same with one more RUN at the end of the builder stage: every layer of that
#            stage's chain is fetched and unpacked for it, and the final stage's COPY --from runs
#            again (what a commit that changes the builder's last step pays)
#   rootless the cold build again, run as the unprivileged $ROOTLESS_USER in a store of its own
#            (user namespace, subordinate id ranges; `whittle info` as that user says which
#            snapshotter): what building without root costs next to the cold column
#
#   bench/cache.sh [OUT.md]
#
# Cases: go-multi and python-multi (examples/, builder stage + distroless final stage) and fat
# (a 200 MB RUN layer behind a 3 s step, generated at run time). Bases come from the loopback
# registry of bench/peers.sh (started if needed; the Debian bases need .ci/fixtures).
# Environment: WHITTLE (default: built from this checkout), RUNS (default 3), CASES (default
# "fat python-multi go-multi"), BENCH_DIR (default a new /var/tmp/whittle-cache-bench.XXXXXX,
# removed at the end unless KEEP=1), ROOTLESS_USER (default whittle-ci, the user .ci/run makes;
# the column is left empty when that user does not exist). Run as root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/peers.sh
source "$here/peers.sh"

out_md=${1:-}
RUNS=${RUNS:-3}
CASES=${CASES:-"fat python-multi go-multi"}
work=${BENCH_DIR:-$(mktemp -d /var/tmp/whittle-cache-bench.XXXXXX)}
mkdir -p "$work"
# The rootless user reads the binary and the contexts from here.
chmod 755 "$work"
ROOTLESS_USER=${ROOTLESS_USER:-whittle-ci}
id "$ROOTLESS_USER" >/dev/null 2>&1 || ROOTLESS_USER=
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT

note() { echo "bench: $*" >&2; }
for tool in hyperfine jq skopeo; do
  command -v "$tool" >/dev/null || { note "$tool is needed (apt-get install $tool)"; exit 1; }
done

peers_registry_start >&2
if ! skopeo inspect --tls-verify=false "docker://$REGISTRY/library/busybox:latest" >/dev/null 2>&1; then
  peers_push_bases >&2
fi

if [ -z "${WHITTLE:-}" ]; then
  WHITTLE=$work/whittle
  (cd "$repo" && go build -o "$WHITTLE" ./cmd/whittle)
fi

# The seed store: the bases only, under the names the Dockerfiles use (see run.sh).
seed=$work/seed
for pair in busybox:latest=library/busybox:latest golang:bookworm=library/golang:bookworm \
  python:bookworm=library/python:bookworm \
  gcr.io/distroless/static-debian12:latest=distroless/static-debian12:latest \
  gcr.io/distroless/python3-debian12:latest=distroless/python3-debian12:latest; do
  skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/${pair#*=}" "oci:$seed:${pair%%=*}" ||
    note "could not seed the store with ${pair%%=*}"
done

ctxs=$work/ctx
mkdir -p "$ctxs"
cp -r "$repo/examples/go" "$ctxs/go"
cp -r "$repo/examples/python" "$ctxs/python"
mkdir -p "$ctxs/fat"
printf 'FROM busybox:latest AS build\nRUN head -c 200000000 /dev/urandom > /blob && sleep 3\nRUN sleep 2 && sha256sum /blob > /blob.sum\n\nFROM busybox:latest\nCOPY --from=build /blob.sum /\n' >"$ctxs/fat/Dockerfile"

# case_spec CASE: prints "CTX DOCKERFILE".
case_spec() {
  case "$1" in
  go-multi) echo "$ctxs/go" "$ctxs/go/Dockerfile" ;;
  python-multi) echo "$ctxs/python" "$ctxs/python/Dockerfile" ;;
  fat) echo "$ctxs/fat" "$ctxs/fat/Dockerfile" ;;
  esac
}

# timed NAME HYPERFINE-ARGS...: the median in seconds, or "fail".
timed() {
  local name=$1
  shift
  if hyperfine --shell=bash --style=none --runs "$RUNS" --export-json "$work/$name.json" "$@" >"$work/$name.log" 2>&1; then
    jq -r '.results[0].median' "$work/$name.json"
  else
    note "$name failed: $(grep -m1 -i error "$work/$name.log" || tail -1 "$work/$name.log")"
    echo fail
  fi
}

export SOURCE_DATE_EPOCH=1700000000
modes="cold warm export shared shared+run rootless"
declare -A result
fmt() { [ "$1" = fail ] || [ -z "$1" ] && echo "${1:--}" || printf '%.2f' "$1"; }
table() {
  echo "whittle, medians of $RUNS runs, seconds, on $(nproc) cores ($(date -u +%Y-%m-%d)); registry on $REGISTRY (Debian's docker-registry)."
  echo "Load average (1/5/15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "Rootless: ${ROOTLESS_USER:-(no user)}${rootless_info:+; $rootless_info}."
  echo
  echo "| case | cold | warm | export | shared | shared+run | rootless | cache size |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  local c m row
  for c in $CASES; do
    row="| $c |"
    for m in $modes; do row+=" $(fmt "${result[$c,$m]:-}") |"; done
    row+=" ${result[$c,size]:--} |"
    echo "$row"
  done
}
rootless_info=
if [ -n "$ROOTLESS_USER" ]; then
  # "mode: rootless (...)" and "snapshotter: overlayfs" from `whittle info`, on one line.
  rootless_info=$(runuser -u "$ROOTLESS_USER" -- "$WHITTLE" info 2>/dev/null |
    awk -F': *' '$1 == "mode" || $1 == "snapshotter" { printf "%s%s: %s", sep, $1, $2; sep = "; " }')
fi
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CASES; do
  read -r ctx df <<<"$(case_spec "$c")"
  a=$work/store-$c
  b=$work/runner-$c
  ref=$REGISTRY/whittle-bench/cache-$c:$(date +%s)
  base="'$WHITTLE' build --progress plain -f '$df'"
  rm -rf "$a" && cp -al "$seed" "$a"
  note "$c: cold"
  result[$c,cold]=$(timed "$c-cold" "$base --root '$a' --no-cache '$ctx'")
  note "$c: warm"
  result[$c,warm]=$(timed "$c-warm" --warmup 1 "$base --root '$a' '$ctx'")
  note "$c: export"
  result[$c,export]=$(timed "$c-export" "$base --root '$a' --cache-to type=registry,ref=$REGISTRY/whittle-bench/export-$c-\$(date +%s%N):cache,mode=max '$ctx'")
  # The cache the runners import.
  eval "$base --root '$a' --cache-to type=registry,ref=$ref,mode=max '$ctx'" >"$work/$c-push.log" 2>&1
  result[$c,size]=$(skopeo inspect --raw --tls-verify=false "docker://$ref" |
    jq -r '[.layers[].size] | add // 0 | if . >= 1048576 then "\(. / 1048576 * 10 | floor / 10) MiB" else "\(. / 1024 * 10 | floor / 10) KiB" end')
  note "$c: shared"
  result[$c,shared]=$(timed "$c-shared" --prepare "rm -rf '$b' && cp -al '$seed' '$b'" \
    "$base --root '$b' --cache-from $ref '$ctx'")
  # One more RUN at the end of the first (builder) stage, before the second FROM.
  awk 'BEGIN{n=0} /^FROM / {n++; if (n == 2) {print "RUN true"; print ""}} {print}' "$df" >"$work/$c.run.Dockerfile"
  result[$c,shared+run]=$(timed "$c-shared+run" --prepare "rm -rf '$b' && cp -al '$seed' '$b'" \
    "'$WHITTLE' build --progress plain -f '$work/$c.run.Dockerfile' --root '$b' --cache-from $ref '$ctx'")
  if [ -n "$ROOTLESS_USER" ]; then
    # A store of the user's own holding the bases (a copy: hard links would hand the seed's
    # files to the user with chown).
    u=$work/rootless-$c
    rm -rf "$u" && cp -a "$seed" "$u" && chown -R "$ROOTLESS_USER:" "$u"
    note "$c: rootless"
    result[$c,rootless]=$(timed "$c-rootless" "runuser -u '$ROOTLESS_USER' -- $base --root '$u' --no-cache '$ctx'")
  fi
  [ -z "$out_md" ] || table >"$out_md"
done

table | tee ${out_md:+"$out_md"}
