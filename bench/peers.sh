#!/usr/bin/env bash
# bench/peers.sh: the peer builders (buildah, a current BuildKit) and the loopback registry
# they pull bases from, as oracles for tests and rivals for bench/run.sh.
#
# Source it for the functions, or run it:
#   bench/peers.sh start      configure containers for buildah/podman, start the registry on
#                             127.0.0.1:5000 and buildkitd (if built), push the bases
#   bench/peers.sh stop       stop what start started
#   bench/peers.sh status
#   bench/peers.sh build-buildah  CONTEXT [DOCKERFILE] [TAG] [buildah build args...]
#   bench/peers.sh build-buildctl CONTEXT [DOCKERFILE] [TAG] [buildctl build args...]
#
# Bases: the images of internal/testutil (busybox, and the mmdebstrap root filesystems that
# .ci/fixtures caches) are written by internal/testutil/cmd/testimage and copied with skopeo
# to the registry under the names the examples use:
#   library/busybox:latest  library/debian:bookworm  library/golang:bookworm
#   library/python:bookworm distroless/static-debian12:latest  distroless/python3-debian12:latest
# (the distroless ones are stand-ins: packages unpacked by mmdebstrap's extract variant).
# Builders find them under their usual names without any build arg: buildah through a
# registries.conf that rewrites docker.io and gcr.io to the loopback registry (used only by
# these functions, via CONTAINERS_REGISTRIES_CONF), BuildKit through registry mirrors in its
# buildkitd.toml.
#
# Where things live (override by environment):
#   PEERS_DIR    /var/tmp/whittle-peers  registry storage, configs, logs, pid files
#   BK_DIR       /var/tmp/bk             BuildKit: bin/buildkitd, bin/buildctl (see build_buildkit), root
#   BK_ADDR      unix:///run/bk/buildkitd.sock
#   REGISTRY     127.0.0.1:5000
#   BK_VERSION   v0.34.2

PEERS_DIR=${PEERS_DIR:-/var/tmp/whittle-peers}
BK_DIR=${BK_DIR:-/var/tmp/bk}
BK_ADDR=${BK_ADDR:-unix:///run/bk/buildkitd.sock}
BK_VERSION=${BK_VERSION:-v0.34.2}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
PEERS_REPO=${PEERS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

peers_log() { echo "peers: $*" >&2; }

# wait_for CMD...: retry CMD for up to 30 s.
peers_wait_for() {
  local i
  for i in $(seq 1 150); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# --- buildah / podman -----------------------------------------------------------------------

# peers_containers_conf: the quirks of these VMs (PEERS.md): crun fails on the hybrid cgroup
# hierarchy, so runc; no CAP_SYS_RESOURCE, so ulimits no higher than the hard limit; and the
# loopback registry marked insecure.
peers_containers_conf() {
  mkdir -p /etc/containers/containers.conf.d /etc/containers/registries.conf.d
  local n
  n=$(ulimit -Hn)
  cat >/etc/containers/containers.conf.d/50-whittle-peers.conf <<EOF
# Written by whittle's bench/peers.sh: see shared/PEERS.md.
[containers]
default_ulimits = ["nofile=$n:$n", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
  cat >/etc/containers/registries.conf.d/50-whittle-loopback.conf <<EOF
# Written by whittle's bench/peers.sh: the test registry on loopback speaks plain HTTP.
[[registry]]
location = "$REGISTRY"
insecure = true
EOF
}

# peers_mirror_conf: a registries.conf that sends docker.io and gcr.io to the loopback
# registry; only the peer build functions use it.
peers_mirror_conf() {
  mkdir -p "$PEERS_DIR"
  cat >"$PEERS_DIR/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = "$REGISTRY"
insecure = true

[[registry]]
prefix = "gcr.io"
location = "$REGISTRY"
insecure = true

[[registry]]
location = "$REGISTRY"
insecure = true
EOF
  echo "$PEERS_DIR/registries.conf"
}

# --- registry -------------------------------------------------------------------------------

peers_registry_up() { curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; }

# peers_registry_start: Debian's docker-registry on $REGISTRY, storage under $PEERS_DIR.
peers_registry_start() {
  if peers_registry_up; then
    peers_log "registry already answers on $REGISTRY"
    return 0
  fi
  command -v docker-registry >/dev/null || { peers_log "docker-registry not installed"; return 1; }
  mkdir -p "$PEERS_DIR/registry"
  cat >"$PEERS_DIR/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $PEERS_DIR/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
  docker-registry serve "$PEERS_DIR/registry/config.yml" >"$PEERS_DIR/registry/log" 2>&1 &
  echo $! >"$PEERS_DIR/registry/pid"
  if ! peers_wait_for peers_registry_up; then
    peers_log "registry did not answer on $REGISTRY; log:"
    tail -20 "$PEERS_DIR/registry/log" >&2
    return 1
  fi
  peers_log "registry on $REGISTRY (pid $(cat "$PEERS_DIR/registry/pid"))"
}

peers_registry_stop() {
  local pidf=$PEERS_DIR/registry/pid
  [ -f "$pidf" ] || return 0
  kill "$(cat "$pidf")" 2>/dev/null || true
  rm -f "$pidf"
}

# --- BuildKit -------------------------------------------------------------------------------

# peers_build_buildkit: buildkitd and buildctl $BK_VERSION from the Go module proxy, in a
# scratch module in $BK_DIR (never in the project's module).
peers_build_buildkit() {
  [ -x "$BK_DIR/bin/buildkitd" ] && [ -x "$BK_DIR/bin/buildctl" ] && return 0
  mkdir -p "$BK_DIR"
  (
    cd "$BK_DIR" || exit 1
    [ -f go.mod ] || go mod init bkpeer
    go get "github.com/moby/buildkit/cmd/buildkitd@$BK_VERSION" "github.com/moby/buildkit/cmd/buildctl@$BK_VERSION"
    local ld="-X github.com/moby/buildkit/version.Version=$BK_VERSION"
    go build -ldflags "$ld" -o bin/buildkitd github.com/moby/buildkit/cmd/buildkitd
    go build -ldflags "$ld" -o bin/buildctl github.com/moby/buildkit/cmd/buildctl
  )
}

peers_buildctl() { "$BK_DIR/bin/buildctl" --addr "$BK_ADDR" "$@"; }
peers_buildkitd_up() { peers_buildctl debug workers >/dev/null 2>&1; }

# peers_buildkitd_start: the OCI worker with overlayfs, plain HTTP to the loopback registry,
# which also mirrors docker.io and gcr.io.
peers_buildkitd_start() {
  if [ ! -x "$BK_DIR/bin/buildkitd" ]; then
    peers_log "no $BK_DIR/bin/buildkitd (bench/peers.sh build-buildkit makes it): BuildKit skipped"
    return 1
  fi
  if peers_buildkitd_up; then
    peers_log "buildkitd already answers on $BK_ADDR"
    return 0
  fi
  cat >"$BK_DIR/buildkitd.toml" <<EOF
# Written by whittle's bench/peers.sh.
[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
[worker.containerd]
  enabled = false
[registry."$REGISTRY"]
  http = true
  insecure = true
[registry."docker.io"]
  mirrors = ["$REGISTRY"]
[registry."gcr.io"]
  mirrors = ["$REGISTRY"]
EOF
  mkdir -p "$(dirname "${BK_ADDR#unix://}")"
  "$BK_DIR/bin/buildkitd" --config "$BK_DIR/buildkitd.toml" --root "$BK_DIR/root" \
    --addr "$BK_ADDR" >"$BK_DIR/buildkitd.log" 2>&1 &
  echo $! >"$BK_DIR/buildkitd.pid"
  if ! peers_wait_for peers_buildkitd_up; then
    peers_log "buildkitd did not start; log:"
    tail -20 "$BK_DIR/buildkitd.log" >&2
    return 1
  fi
  peers_log "buildkitd on $BK_ADDR (pid $(cat "$BK_DIR/buildkitd.pid"))"
}

peers_buildkitd_stop() {
  local pidf=$BK_DIR/buildkitd.pid
  [ -f "$pidf" ] || return 0
  local pid
  pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f "$pidf"
}

# --- bases ----------------------------------------------------------------------------------

# peers_push_bases: write the testutil images to an OCI layout and copy them to the registry.
# The Debian ones need .ci/fixtures to have run; a missing tarball is reported and skipped.
peers_push_bases() {
  local oci=$PEERS_DIR/bases-oci
  local tool=$PEERS_DIR/testimage
  (cd "$PEERS_REPO" && go build -o "$tool" ./internal/testutil/cmd/testimage) || return 1
  rm -rf "$oci"
  local spec kind arg dest
  for spec in \
    "busybox - library/busybox:latest" \
    "debian minbase library/debian:bookworm" \
    "debian golang library/golang:bookworm" \
    "debian python library/python:bookworm" \
    "debian static-extract distroless/static-debian12:latest" \
    "debian python3-extract distroless/python3-debian12:latest"; do
    read -r kind arg dest <<<"$spec"
    if [ "$kind" = debian ] && [ ! -s "${WHITTLE_TEST_CACHE:-/var/cache/whittle-test}/debian-$arg.tar" ]; then
      peers_log "no debian-$arg.tar (run .ci/fixtures $arg): $dest not pushed"
      continue
    fi
    if [ "$kind" = busybox ]; then
      "$tool" -o "$oci" -name "$dest" busybox >/dev/null || return 1
    else
      "$tool" -o "$oci" -name "$dest" debian "$arg" >/dev/null || return 1
    fi
    skopeo copy --quiet --dest-tls-verify=false "oci:$oci:$dest" "docker://$REGISTRY/$dest" || return 1
    peers_log "pushed $REGISTRY/$dest"
  done
}

# --- builds ---------------------------------------------------------------------------------

# peers_build_buildah CONTEXT [DOCKERFILE] [TAG] [ARGS...]: buildah with layer caching, bases
# from the loopback registry through the mirror registries.conf.
peers_build_buildah() {
  local ctx=$1 df=${2:-$1/Dockerfile} tag=${3:-localhost/peers/build:latest}
  shift $(($# < 3 ? $# : 3))
  CONTAINERS_REGISTRIES_CONF=$PEERS_DIR/registries.conf \
    buildah build --quiet --layers --pull=missing -f "$df" -t "$tag" "$@" "$ctx"
}

# peers_build_buildctl CONTEXT [DOCKERFILE] [TAG] [ARGS...]: BuildKit's Dockerfile frontend;
# the image stays in buildkitd's store (type=image, no push).
peers_build_buildctl() {
  local ctx=$1 df=${2:-$1/Dockerfile} tag=${3:-peers/build:latest}
  shift $(($# < 3 ? $# : 3))
  peers_buildctl build --progress=quiet --frontend dockerfile.v0 \
    --local context="$ctx" --local dockerfile="$(dirname "$df")" --opt filename="$(basename "$df")" \
    --output "type=image,name=$tag,push=false" "$@"
}

peers_status() {
  echo "registry  $REGISTRY: $(peers_registry_up && echo up || echo down)"
  echo "buildkitd $BK_ADDR: $(peers_buildkitd_up && echo up || echo down) ($BK_DIR/bin/buildkitd $([ -x "$BK_DIR/bin/buildkitd" ] && echo present || echo absent))"
  echo "buildah: $(command -v buildah || echo absent)"
}

peers_start() {
  peers_containers_conf
  peers_mirror_conf >/dev/null
  peers_registry_start || return 1
  peers_push_bases || return 1
  peers_buildkitd_start || true
}

peers_stop() {
  peers_buildkitd_stop
  peers_registry_stop
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cmd=${1:-status}
  shift || true
  case "$cmd" in
  start) peers_start ;;
  stop) peers_stop ;;
  status) peers_status ;;
  build-buildkit) peers_build_buildkit ;;
  push-bases) peers_push_bases ;;
  build-buildah) peers_build_buildah "$@" ;;
  build-buildctl) peers_build_buildctl "$@" ;;
  *)
    echo "usage: bench/peers.sh start|stop|status|build-buildkit|push-bases|build-buildah CTX [DF] [TAG]|build-buildctl CTX [DF] [TAG]" >&2
    exit 2
    ;;
  esac
fi
