#!/bin/bash
# The Go tool's on-VM steps (its script/startup.sh), modelled for the benchmark: see bench/lib/go-model.ts.
# Arguments: the images, pulled in this order. Environment: GDIB_DEVICE, GDIB_MOUNT_DIR, GDIB_WORK_DIR, GDIB_HOSTS_DIR.
set -uo pipefail
export LC_ALL=C
dev=$GDIB_DEVICE
mnt=$GDIB_MOUNT_DIR
ctrd=$GDIB_WORK_DIR/containerd
hosts=$GDIB_HOSTS_DIR
pid=""
run_ctr() { ctr --address "$ctrd/containerd.sock" -n k8s.io "$@"; }
die() {
  echo "go-model: $*" >&2
  exit 1
}
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  findmnt -rn -o TARGET | grep -F "$ctrd/" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  if mountpoint -q "$mnt"; then umount "$mnt"; fi
  true
}
trap cleanup EXIT

echo "gdib: phase=formatting"
mkfs.ext4 -q -F -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard "$dev" || die "mkfs failed"
# containerd as the Debian package runs it, its root (snapshots, content) on the boot disk.
mkdir -p "$ctrd/tmp" "$mnt"
cat >"$ctrd/config.toml" <<CONFIG
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$ctrd/containerd.sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
CONFIG
env -u XDG_RUNTIME_DIR TMPDIR="$ctrd/tmp" CONTAINERD_DISABLE_PIGZ=1 containerd --config "$ctrd/config.toml" >"$ctrd/containerd.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  run_ctr version >/dev/null 2>&1 && break
  sleep 0.1
done
run_ctr version >/dev/null 2>&1 || die "containerd did not start"
mount -o discard,defaults "$dev" "$mnt" || die "mount failed"
: >"$mnt/snapshots.metadata"

# One image after another.
for img in "$@"; do
  echo "gdib: phase=pulling"
  run_ctr image pull --hosts-dir "$hosts" "$img" >/dev/null || die "pulling $img failed"
done
run_ctr images ls >>"$mnt/images.metadata"

# Every committed snapshot: a view to find its directory, a copy to the data disk, the md5 pipeline over the copy.
echo "gdib: phase=copying"
mapfile -t snapshots < <(run_ctr snapshot list | grep Committed | cut -d' ' -f1)
for s in "${snapshots[@]}"; do
  # Its retry loop: containerd's garbage collector may remove the view before it is mounted.
  original=""
  for _ in 1 2 3 4 5; do
    run_ctr snapshot view "tmp_$s" "$s" >/dev/null 2>&1 || continue
    original=$(run_ctr snapshot mount "/tmp_$s" "tmp_$s" | grep -oP '/\S+/snapshots/[0-9]+/fs' | tr ':' '\n' | head -n 1)
    [[ -z $original ]] || break
    run_ctr snapshot rm "tmp_$s" >/dev/null 2>&1
    sleep 1
  done
  [[ -n $original ]] || die "no directory for $s"
  new=$(echo "$original" | grep -o 'snapshots/.*/fs')
  mkdir -p "$mnt/$new"
  cp -r -p "$original" "$mnt/$new/.." || die "copying $s failed"
  checksum=$(find "$mnt/$new" -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1)
  echo "$s $new $checksum" >>"$mnt/snapshots.metadata"
done
for img in "$@"; do run_ctr image rm "$img" >/dev/null; done

echo "gdib: phase=syncing"
sync
umount "$mnt" || die "umount failed"
echo "gdib: phase=done"
