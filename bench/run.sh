#!/usr/bin/env bash
# bench/run.sh: build the examples and two generated cases with whittle and, where present,
# buildah and BuildKit (buildctl), and print a markdown table of median wall times with
# ratios against BuildKit. Run as root from anywhere; needs hyperfine, jq, skopeo.
#
#   bench/run.sh [OUT.md]
#
# Modes, per case and builder (median of $RUNS runs, hyperfine):
#   cold    a build with the builder's --no-cache: every step runs, the bases stay pulled
#   noop    the same build again, nothing changed (after one warm-up build)
#   edit    one source file changed before each run (a line appended)
# Cases: go-single go-multi python-single python-multi (examples/), parallel4 (four
# independent stages that each sleep 5 s, then a stage copying from all four) and copy20k
# (COPY of 20,000 files, 200 MB of random bytes) and go-cache (examples/go/Dockerfile with Go's
# build cache on a RUN --mount=type=cache, as `docker init` writes Go Dockerfiles: an edit
# recompiles one package, so the row shows the builder rather than the compiler) and apt
# (apt-get install of python3 and g++, 59 packages, on debian:bookworm; the packages are
# downloaded in an earlier step, so an edit reinstalls them from the layer; cold builds fetch
# them from the Debian mirror the fixture's apt sources name); the generated ones are made at
# run time under the work dir, never committed.
#
# Environment:
#   WHITTLE    the whittle binary (default: go build ./cmd/whittle from this checkout; a
#              builder that cannot be had is skipped with a note)
#   BUILDERS   default "whittle buildah buildctl"
#   CASES      default "python-single python-multi parallel4 copy20k apt go-cache go-multi go-single"
#              (the noisy Go builds last)
#   RUNS       default 3
#   BUILDAH_ARGS  extra buildah build args (e.g. --jobs=4; default none, buildah's own default)
#   BENCH_DIR  work dir (default: a new /var/tmp/whittle-bench.XXXXXX, removed at the end
#              unless KEEP=1)
# Peers and bases come from bench/peers.sh (registry on 127.0.0.1:5000, buildkitd from
# /var/tmp/bk); the Debian bases need .ci/fixtures to have run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/peers.sh
source "$here/peers.sh"

out_md=${1:-}
RUNS=${RUNS:-3}
BUILDERS=${BUILDERS:-"whittle buildah buildctl"}
CASES=${CASES:-"python-single python-multi parallel4 copy20k apt go-cache go-multi go-single"}
BUILDAH_ARGS=${BUILDAH_ARGS:-}
work=${BENCH_DIR:-$(mktemp -d /var/tmp/whittle-bench.XXXXXX)}
mkdir -p "$work"
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$work"' EXIT

note() { echo "bench: $*" >&2; }
for tool in hyperfine jq skopeo; do
  command -v "$tool" >/dev/null || { note "$tool is needed (apt-get install $tool)"; exit 1; }
done

peers_start >&2

# --- builders --------------------------------------------------------------------------------
declare -A have
whittle_root=$work/whittle-root
for b in $BUILDERS; do
  case "$b" in
  whittle)
    if [ -z "${WHITTLE:-}" ]; then
      WHITTLE=$work/whittle
      if ! (cd "$repo" && go build -o "$WHITTLE" ./cmd/whittle) >"$work/whittle-build.log" 2>&1; then
        note "whittle skipped: go build ./cmd/whittle failed ($(tail -1 "$work/whittle-build.log"))"
        continue
      fi
    fi
    if ! "$WHITTLE" build --help >/dev/null 2>&1; then
      note "whittle skipped: $WHITTLE has no working 'build' command"
      continue
    fi
    # whittle's store is an OCI layout: put the same bases in it under their normalized names
    # (store.NormalizeName: Docker Hub without "library/", ":latest" added).
    for pair in busybox:latest=library/busybox:latest debian:bookworm=library/debian:bookworm \
      golang:bookworm=library/golang:bookworm python:bookworm=library/python:bookworm \
      gcr.io/distroless/static-debian12:latest=distroless/static-debian12:latest \
      gcr.io/distroless/python3-debian12:latest=distroless/python3-debian12:latest; do
      skopeo copy --quiet --src-tls-verify=false "docker://$REGISTRY/${pair#*=}" "oci:$whittle_root:${pair%%=*}" ||
        note "could not seed $whittle_root with ${pair%%=*}"
    done
    have[whittle]=1
    ;;
  buildah)
    command -v buildah >/dev/null && have[buildah]=1 || note "buildah skipped: not installed"
    ;;
  buildctl)
    peers_buildkitd_up && have[buildctl]=1 || note "buildctl skipped: buildkitd is not running"
    ;;
  *) note "unknown builder $b" ;;
  esac
done

# build_cmd BUILDER CTX DOCKERFILE TAG [no-cache]: the shell command hyperfine times.
build_cmd() {
  local b=$1 ctx=$2 df=$3 tag=$4 nc=${5:-}
  case "$b" in
  whittle)
    echo "'$WHITTLE' build --root '$whittle_root' --progress plain ${nc:+--no-cache} -f '$df' -t '$tag' '$ctx'"
    ;;
  buildah)
    echo "CONTAINERS_REGISTRIES_CONF='$PEERS_DIR/registries.conf' buildah build --quiet --layers --pull=missing $BUILDAH_ARGS ${nc:+--no-cache} -f '$df' -t 'localhost/bench/$tag' '$ctx'"
    ;;
  buildctl)
    echo "'$BK_DIR/bin/buildctl' --addr '$BK_ADDR' build --progress=quiet --frontend dockerfile.v0 ${nc:+--no-cache} --local context='$ctx' --local dockerfile='$(dirname "$df")' --opt filename='$(basename "$df")' --output type=image,name=bench/$tag,push=false"
    ;;
  esac
}

# --- cases -----------------------------------------------------------------------------------
ctxs=$work/ctx
mkdir -p "$ctxs"
cp -r "$repo/examples/go" "$ctxs/go"
cp -r "$repo/examples/python" "$ctxs/python"

mkdir -p "$ctxs/parallel4"
echo 0 >"$ctxs/parallel4/input.txt"
{
  for s in a b c d; do
    printf 'FROM busybox:latest AS %s\nCOPY input.txt /\nRUN sleep 5 && cp /input.txt /%s\n\n' "$s" "$s"
  done
  printf 'FROM busybox:latest\n'
  for s in a b c d; do printf 'COPY --from=%s /%s /%s\n' "$s" "$s" "$s"; done
} >"$ctxs/parallel4/Dockerfile"

# go-cache: the multi-stage example, its go build with GOCACHE (/root/.cache/go-build in
# golang:bookworm) on a cache mount. The mount must be there; the sed fails loudly otherwise.
sed 's|^RUN CGO_ENABLED=0 go build|RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build|' \
  "$ctxs/go/Dockerfile" >"$ctxs/go/Dockerfile.cache"
grep -q -- '--mount=type=cache' "$ctxs/go/Dockerfile.cache" || { note "go-cache: examples/go/Dockerfile has no 'RUN CGO_ENABLED=0 go build' line to mount the cache on"; exit 1; }

case " $CASES " in *" copy20k "*)
  note "generating 20,000 files, 200 MB"
  mkdir -p "$ctxs/copy20k/data"
  for d in $(seq -w 0 99); do
    mkdir -p "$ctxs/copy20k/data/d$d"
    head -c 2000000 /dev/urandom | split -b 10000 -a 3 -d - "$ctxs/copy20k/data/d$d/f"
  done
  printf 'FROM busybox:latest\nCOPY data /data\n' >"$ctxs/copy20k/Dockerfile"
  ;;
esac

mkdir -p "$ctxs/apt"
echo 0 >"$ctxs/apt/stamp"
printf '%s\n' 'FROM debian:bookworm' \
  'RUN apt-get update && apt-get install -y --no-install-recommends --download-only python3 g++' \
  'COPY stamp /' \
  'RUN apt-get install -y --no-install-recommends python3 g++ >/dev/null' >"$ctxs/apt/Dockerfile"

# case_spec CASE: prints "CTX DOCKERFILE EDIT-COMMAND".
case_spec() {
  local c=$1
  case "$c" in
  go-single) echo "$ctxs/go" "$ctxs/go/Dockerfile.single" "echo \"// edit \$(date +%s%N)\" >>'$ctxs/go/main.go'" ;;
  go-cache) echo "$ctxs/go" "$ctxs/go/Dockerfile.cache" "echo \"// edit \$(date +%s%N)\" >>'$ctxs/go/main.go'" ;;
  go-multi) echo "$ctxs/go" "$ctxs/go/Dockerfile" "echo \"// edit \$(date +%s%N)\" >>'$ctxs/go/main.go'" ;;
  python-single) echo "$ctxs/python" "$ctxs/python/Dockerfile.single" "echo \"# edit \$(date +%s%N)\" >>'$ctxs/python/server.py'" ;;
  python-multi) echo "$ctxs/python" "$ctxs/python/Dockerfile" "echo \"# edit \$(date +%s%N)\" >>'$ctxs/python/server.py'" ;;
  parallel4) echo "$ctxs/parallel4" "$ctxs/parallel4/Dockerfile" "date +%s%N >>'$ctxs/parallel4/input.txt'" ;;
  copy20k) echo "$ctxs/copy20k" "$ctxs/copy20k/Dockerfile" "head -c 10000 /dev/urandom >'$ctxs/copy20k/data/d00/f000'" ;;
  apt) echo "$ctxs/apt" "$ctxs/apt/Dockerfile" "date +%s%N >>'$ctxs/apt/stamp'" ;;
  esac
}

# timed NAME HYPERFINE-ARGS...: the median in seconds, or "fail".
timed() {
  local name=$1
  shift
  local json=$work/$name.json
  if hyperfine --shell=bash --style=none --runs "$RUNS" --export-json "$json" "$@" >"$work/$name.log" 2>&1; then
    jq -r '.results[0].median' "$json"
  else
    note "$name failed: $(grep -m1 -i error "$work/$name.log" || tail -1 "$work/$name.log")"
    echo fail
  fi
}

# --- table -----------------------------------------------------------------------------------
fmt() { [ "$1" = fail ] || [ -z "$1" ] && echo "${1:--}" || printf '%.2f' "$1"; }
ratio() { # ratio A B: A/B to two places, or -
  if [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && [ "$(awk "BEGIN{print ($2 > 0)}")" = 1 ]; then
    awk "BEGIN{printf \"%.2f\", $1 / $2}"
  else
    echo -
  fi
}
table() {
  local cols=() b
  for b in $BUILDERS; do [ -n "${have[$b]:-}" ] && cols+=("$b"); done
  echo "Medians of $RUNS runs, seconds, on $(nproc) cores ($(date -u +%Y-%m-%d)); ratio = builder / buildctl."
  echo "Load average (1/5/15 min) at the start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg); niceness $(nice)."
  echo
  local head="| case | mode |" sep="|---|---|"
  for b in "${cols[@]}"; do
    head+=" $b |"
    sep+="---:|"
    [ "$b" != buildctl ] && [ -n "${have[buildctl]:-}" ] && { head+=" $b/BK |"; sep+="---:|"; }
  done
  echo "$head"
  echo "$sep"
  local c m row v
  for c in $CASES; do
    for m in cold noop edit; do
      row="| $c | $m |"
      for b in "${cols[@]}"; do
        v=${result[$c,$m,$b]:-}
        row+=" $(fmt "$v") |"
        [ "$b" != buildctl ] && [ -n "${have[buildctl]:-}" ] && row+=" $(ratio "$v" "${result[$c,$m,buildctl]:-}") |"
      done
      echo "$row"
    done
  done
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A result
for c in $CASES; do
  read -r ctx df edit <<<"$(case_spec "$c")"
  for b in $BUILDERS; do
    [ -n "${have[$b]:-}" ] || continue
    tag="$c:latest"
    note "$c with $b"
    result[$c,cold,$b]=$(timed "$c-$b-cold" "$(build_cmd "$b" "$ctx" "$df" "$tag" no-cache)")
    result[$c,noop,$b]=$(timed "$c-$b-noop" --warmup 1 "$(build_cmd "$b" "$ctx" "$df" "$tag")")
    result[$c,edit,$b]=$(timed "$c-$b-edit" --prepare "$edit" "$(build_cmd "$b" "$ctx" "$df" "$tag")")
    # The table so far, so that an interrupted run still leaves one.
    [ -z "$out_md" ] || table >"$out_md"
  done
done

table | tee ${out_md:+"$out_md"}

# Leave buildah's store as it was: drop the bench images and their cache layers.
if [ -n "${have[buildah]:-}" ]; then
  buildah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/bench/' | xargs -r buildah rmi -f >/dev/null 2>&1 || true
  buildah rmi --prune >/dev/null 2>&1 || true
fi
