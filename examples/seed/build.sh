#!/usr/bin/env bash
# examples/seed/build.sh [OUT_DIR]: the seed's systems, end to end (issue 6).
#
# Builds whittle from this checkout, makes the base images the Dockerfiles name
# with `whittle base` (distroless static/python3/java for the finals, Debian
# with toolchains for the build stages and the single-stage images), builds
# every example single-stage and multi-stage into OCI layouts under OUT_DIR
# (default ./out), runs each final image and checks its answers on 127.0.0.1,
# and prints one table: example, variant, uncompressed bytes, compressed
# bytes, layers, shells/package managers present, build seconds, runs.
#
#   OUT_DIR/<example>-single, <example>-multi   OCI layouts (-multi: distroless)
#   OUT_DIR/go-multi-scratch, java-multi-slim   comparison finals (scratch; debian + JRE)
#   OUT_DIR/results.tsv   one line per image (the table, machine-readable, with digests)
#   OUT_DIR/table.md      the table and the size ratios the issue asks for
#   OUT_DIR/digests.txt   image digests; the previous run's are compared with them
#   OUT_DIR/logs/         build, analyze and run logs
#   OUT_DIR/store         the whittle store (kept: the bases are made once)
#
# Every build runs with --no-cache (bases kept), so "build seconds" is a cold
# build on present bases and two runs of this script really rebuild: with
# SOURCE_DATE_EPOCH fixed, every multi-stage final has the same digest.
#
# Environment:
#   SEED_EXAMPLES     the examples to build (default all: everything-in-one go
#                     java frontend-backend node-python python)
#   SEED_VARIANTS     which images of each example (default "single multi compare";
#                     compare is go's scratch and java's debian-slim + JRE finals)
#   SOURCE_DATE_EPOCH (default 1700000000) file, history and jar entry times
#   EXTRA_CA          a PEM file of extra CA certificates for npm (a TLS-inspecting
#                     proxy), passed as the optional secret "extra-ca"; default
#                     the certificates in /usr/local/share/ca-certificates
#   WHITTLE_ROOT      the store (default OUT_DIR/store)
#   SEED_PORT         first port the services are run on (default 18400)
#
# Needs root (or a user whittle can run rootless as), Go, curl, jq, and the
# Debian mirror of the host's apt sources; the node examples need the npm
# registry. Exits 1 when an image fails to build or run, when a distroless
# final has a shell or a package manager, or when a size ratio is missed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-./out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
examples=${SEED_EXAMPLES:-everything-in-one go java frontend-backend node-python python}
variants=${SEED_VARIANTS:-single multi compare}
export PATH=$PATH:/usr/local/go/bin
for tool in go curl jq; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is needed" >&2; exit 1; }
done

mkdir -p "$out/logs" "$out/bin"
whittle_bin=$out/bin/whittle
root=${WHITTLE_ROOT:-$out/store}
w() { "$whittle_bin" --root "$root" "$@"; }
log() { printf '%s\n' "build.sh: $*" >&2; }
has() { [[ " $examples " == *" $1 "* ]]; }
wants() { [[ " $variants " == *" $1 "* ]]; }

# --- whittle ---------------------------------------------------------------------------------
log "building whittle from $repo"
(cd "$repo" && go build -o "$whittle_bin" ./cmd/whittle)

# --- the extra CA (optional secret) ----------------------------------------------------------
secret=()
ca=${EXTRA_CA:-}
if [ -z "$ca" ]; then
  shopt -s nullglob
  certs=(/usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt)
  shopt -u nullglob
  if [ "${#certs[@]}" -gt 0 ]; then
    ca=$out/extra-ca.pem
    cat "${certs[@]}" >"$ca"
  fi
fi
if [ -n "$ca" ]; then
  secret=(--secret "id=extra-ca,src=$ca")
  log "npm steps get the extra CA $ca (secret extra-ca)"
fi

# --- bases -----------------------------------------------------------------------------------
# base NAME RECIPE [ARGS...]: make a base with `whittle base` under the name
# the Dockerfiles use (equivalents of the public images they name).
declare -A made=()
base() {
  local name=$1
  shift
  [ -n "${made[$name]:-}" ] && return 0
  log "base $name: whittle base $*"
  local begin=$SECONDS
  if ! w base "$@" -t "$name" --progress plain >"$out/logs/base-${name//[:\/]/_}.log" 2>&1; then
    tail -n 30 "$out/logs/base-${name//[:\/]/_}.log" >&2
    log "making the base $name failed (log: $out/logs/base-${name//[:\/]/_}.log)"
    exit 1
  fi
  log "base $name: $((SECONDS - begin)) s"
  made[$name]=1
}
base_golang() { base golang:bookworm debian --include golang-go,ca-certificates; }
base_python() { base python:bookworm debian --include python3,python3-pip,python3-venv,build-essential,ca-certificates; }
base_node() { base node:18-bookworm debian --include nodejs,npm,python3,ca-certificates; }
base_jdk() { base eclipse-temurin:17-jdk debian --include openjdk-17-jdk-headless,ca-certificates; }
base_jre_slim() { base seed/debian-slim-jre:17 debian --include openjdk-17-jre-headless; }
base_static() { base gcr.io/distroless/static-debian12 static; }
base_python3() { base gcr.io/distroless/python3-debian12 python3; }
base_java() { base gcr.io/distroless/java17-debian12 java; }

if has go; then base_golang; base_static; fi
if has python; then base_python; base_python3; fi
if has java; then base_jdk; base_java; if wants compare; then base_jre_slim; fi; fi
if has frontend-backend; then base_node; base_jdk; base_java; fi
if has node-python; then base_node; base_python; base_python3; fi
if has everything-in-one; then base debian:bookworm debian; base_node; base_jdk; base_java; fi

# --- build, analyze, run ---------------------------------------------------------------------
[ -f "$out/digests.txt" ] && mv "$out/digests.txt" "$out/digests.prev.txt"
: >"$out/digests.txt"
printf 'example\tvariant\tdir\tdigest\tsize\tcompressed\tlayers\tshells_pms\tseconds\truns\n' >"$out/results.tsv"
port=${SEED_PORT:-18400}
failed=0

# check NAME PORT PATH WANT: GET http://127.0.0.1:PORT/PATH until its body has
# WANT (30 s at most; the JVM takes a moment to start).
check() {
  local body i
  for i in $(seq 150); do
    if body=$(curl -sf --max-time 5 "http://127.0.0.1:$2$3" 2>/dev/null) && [[ $body == *"$4"* ]]; then
      echo "GET $3: ok" >>"$out/logs/$1.run.log"
      return 0
    fi
    sleep 0.2
  done
  echo "GET $3: want a body with '$4', got '${body:-}'" >>"$out/logs/$1.run.log"
  return 1
}

# run NAME IMAGE PATH WANT PATH WANT: start IMAGE with `whittle run` on
# 127.0.0.1 (BIND, PORT), check two answers, stop it; sets runs to yes or no.
run() {
  local name=$1 image=$2 pid
  runs=yes
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  # whittle itself in the background (not the function w, whose subshell
  # would get the signal and leave whittle running).
  "$whittle_bin" --root "$root" run -e BIND=127.0.0.1 -e "PORT=$port" "$image" >"$out/logs/$name.run.log" 2>&1 &
  pid=$!
  check "$name" "$port" "$3" "$4" && check "$name" "$port" "$5" "$6" || runs=no
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "whittle run did not stop in 10 s after SIGTERM: killed" >>"$out/logs/$name.run.log"
    kill -KILL "$pid" 2>/dev/null || true
    runs=no
  fi
  wait "$pid" 2>/dev/null || true
  port=$((port + 1))
}

# one EXAMPLE VARIANT DOCKERFILE [BUILD ARGS...]: build, analyze and run one image.
one() {
  local ex=$1 variant=$2 dockerfile=$3
  shift 3
  local name=$ex-$variant image=seed/$ex:$variant dir=$out/$ex-$variant
  log "$name: whittle build -f $dockerfile $*"
  rm -rf "$dir"
  local begin end secs
  begin=$(date +%s%N)
  if ! w build --no-cache --progress plain -f "$here/$ex/$dockerfile" \
    --build-arg "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" "${secret[@]}" "$@" \
    -t "$image" -o type=image -o "type=oci,dest=$dir" "$here/$ex" >"$out/logs/$name.build.log" 2>&1; then
    tail -n 30 "$out/logs/$name.build.log" >&2
    log "$name: the build failed (log: $out/logs/$name.build.log)"
    printf '%s\t%s\t%s\t-\t0\t0\t0\t-\t-\tno\n' "$ex" "$variant" "$name" >>"$out/results.tsv"
    failed=1
    return 0
  fi
  end=$(date +%s%N)
  secs=$(printf '%d.%d' $(((end - begin) / 1000000000)) $(((end - begin) / 100000000 % 10)))

  w analyze --format json "$image" >"$out/logs/$name.analyze.json"
  local digest size compressed layers pms
  digest=$(jq -r .image.digest "$out/logs/$name.analyze.json")
  size=$(jq -r .size "$out/logs/$name.analyze.json")
  compressed=$(jq -r .compressedSize "$out/logs/$name.analyze.json")
  layers=$(jq -r '.layers | length' "$out/logs/$name.analyze.json")
  pms=$(jq -r '[.findings[] | select(.rule == "shell" or .rule == "package-manager") | .path | split("/") | last]
    | unique | if length == 0 then "none" else join(",") end' "$out/logs/$name.analyze.json")

  local runs
  case $ex in
  go) run "$name" "$image" / "hello from the seed (go)" /api/hello '"language":"go"' ;;
  python) run "$name" "$image" / "hello from the seed (python)" /api/items/nuts '"count": 80' ;;
  java) run "$name" "$image" / "hello from the seed (java)" /api/hello '"language":"java"' ;;
  frontend-backend) run "$name" "$image" / "<title>seed docs</title>" /api/status '"pages":4' ;;
  node-python) run "$name" "$image" /app.js "seed dashboard, bundled by esbuild" /api/stock '"washers"' ;;
  everything-in-one) run "$name" "$image" /app.js "seed orders UI, React bundled by esbuild" /api/orders '"Grace"' ;;
  esac
  log "$name: $size bytes ($compressed compressed), $layers layers, shells/package managers: $pms, $secs s, runs: $runs"
  [ "$runs" = yes ] || failed=1
  if [[ $variant == multi ]] && [ "$pms" != none ]; then
    log "$name: the distroless final has $pms"
    failed=1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ex" "$variant" "$name" "$digest" "$size" "$compressed" \
    "$layers" "$pms" "$secs" "$runs" >>"$out/results.tsv"
  printf '%s\t%s\n' "$name" "$digest" >>"$out/digests.txt"
}

for ex in everything-in-one go java frontend-backend node-python python; do
  has "$ex" || continue
  if wants single; then one "$ex" single Dockerfile.single; fi
  if wants multi; then one "$ex" multi Dockerfile; fi
  if wants compare; then
    case $ex in
    go) one go multi-scratch Dockerfile --build-arg BASE=scratch ;;
    java) one java multi-slim Dockerfile --build-arg BASE=seed/debian-slim-jre:17 ;;
    esac
  fi
done

# --- the table -------------------------------------------------------------------------------
# size NAME: the uncompressed size of a row, or nothing.
size() { awk -F'\t' -v n="$1" '$3 == n { print $5 }' "$out/results.tsv"; }
# ratio LABEL BIG SMALL MIN: print BIG/SMALL and whether it is at least MIN.
ratio() {
  local big small
  big=$(size "$2")
  small=$(size "$3")
  if [ -z "$big" ] || [ -z "$small" ] || [ "$small" = 0 ] || [ "$big" = 0 ]; then
    return 0
  fi
  awk -v l="$1" -v b="$big" -v s="$small" -v m="$4" 'BEGIN {
    r = b / s; ok = (r >= m) ? "ok" : "FAIL"
    printf "- %s: %.1fx (%s / %s bytes; wanted at least %sx): %s\n", l, r, b, s, m, ok
    exit (r >= m) ? 0 : 1 }' || failed=1
}
{
  echo "| example | variant | uncompressed bytes | compressed bytes | layers | shells/package managers | build s | runs |"
  echo "|---|---|---:|---:|---:|---|---:|---|"
  tail -n +2 "$out/results.tsv" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $5, $6, $7, $8, $9, $10 }'
  echo
  echo "Ratios (uncompressed):"
  ratio "go single / go multi" go-single go-multi 50
  ratio "python single / python multi" python-single python-multi 5
  ratio "node-python single / node-python multi" node-python-single node-python-multi 5
  ratio "everything-in-one single / java multi" everything-in-one-single java-multi 5
  ratio "everything-in-one single / everything-in-one multi" everything-in-one-single everything-in-one-multi 1
  ratio "java single / java multi" java-single java-multi 1
  ratio "java single / java multi-slim" java-single java-multi-slim 1
  ratio "frontend-backend single / frontend-backend multi" frontend-backend-single frontend-backend-multi 1
  if [ -f "$out/digests.prev.txt" ]; then
    same=0 total=0 diffs=""
    while IFS=$'\t' read -r name digest; do
      [[ $name == *-multi* ]] || continue
      prev=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$out/digests.prev.txt")
      [ -n "$prev" ] || continue
      total=$((total + 1))
      if [ "$prev" = "$digest" ]; then same=$((same + 1)); else diffs="$diffs $name"; fi
    done <"$out/digests.txt"
    echo
    echo "Multi-stage finals with the previous run's digest: $same of $total${diffs:+ (differ:$diffs)}"
    [ "$same" = "$total" ] || failed=1
  fi
} >"$out/table.md"
cat "$out/table.md"
exit "$failed"
