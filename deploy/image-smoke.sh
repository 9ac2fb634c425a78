#!/usr/bin/env bash
# Builds the jobwatch image's final stage (deploy/Containerfile.prebuilt)
# from a binary built with CGO_ENABLED=0 (the path given as the argument, or
# one built here), starts it with podman and waits for a 200 from /readyz.
# Needs no registry: the base is scratch.
# Where this machine cannot build or run containers it says why and exits 0
# ("skip: ..."); a container that runs but never gets ready fails (exit 1).
# Run from anywhere: bash deploy/image-smoke.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v podman >/dev/null; then
  echo "skip: image smoke test: podman is not installed"; exit 0
fi

work=$(mktemp -d)
tag="localhost/jobwatch-smoke:$$"
name="jobwatch-smoke-$$"
port=$((20000 + RANDOM % 20000))
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

rootfs="$work/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/etc/jobwatch" "$work/data/jobwatch"
if [ -n "${1:-}" ]; then
  cp "$1" "$rootfs/usr/local/bin/jobwatch"
else
  CGO_ENABLED=0 go build -o "$rootfs/usr/local/bin/jobwatch" ./cmd/jobwatch
fi
# A scratch image has no loader: a dynamically linked binary would not start.
if ! file "$rootfs/usr/local/bin/jobwatch" | grep -q 'statically linked'; then
  echo "image smoke test: FAILED: the binary is not statically linked (build it with CGO_ENABLED=0)"; exit 1
fi
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
cp deploy/jobwatch.toml "$rootfs/etc/jobwatch/jobwatch.toml"
cp deploy/Containerfile.prebuilt "$work/Containerfile"

if ! out=$(podman build -q -t "$tag" "$work" 2>&1); then
  echo "skip: image smoke test: podman cannot build an image here: $(tail -n 1 <<<"$out")"; exit 0
fi
echo "built $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)"
# The host's network (no network namespace to set up) and limits within the
# host's hard ones (a sandbox may forbid raising them); runc where crun
# cannot run on the host's cgroups.
runtime=()
if command -v runc >/dev/null; then runtime=(--runtime runc); fi
if ! out=$(podman "${runtime[@]}" run -d --name "$name" --network host \
    --ulimit nofile=4096:4096 --ulimit nproc=1024:1024 \
    -e JOBWATCH_LISTEN="127.0.0.1:$port" "$tag" 2>&1); then
  echo "skip: image smoke test: podman cannot run a container here: $(tail -n 1 <<<"$out")"; exit 0
fi
for _ in $(seq 50); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; then
    echo "image smoke test: /readyz answered 200 (user $(podman inspect --format '{{.Config.User}}' "$name"))"
    exit 0
  fi
  if [ "$(podman inspect --format '{{.State.Running}}' "$name")" != true ]; then break; fi
  sleep 0.2
done
echo "image smoke test: FAILED: no 200 from /readyz within 10 s; the container's log:"
podman logs "$name" 2>&1 | tail -n 20
exit 1
