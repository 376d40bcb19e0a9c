#!/bin/bash
# gke-disk-image-builder: the build script, run as root by the temporary VM as its startup script.
#
# It formats the data disk (ext4, whole disk) — or, when the disk was made from an image this tool built
# (gdib-data-disk=from-image), mounts it, grows its filesystem and hands the snapshots already on it back to
# containerd — runs its own containerd whose overlayfs snapshotter keeps
# its snapshots on that disk, pulls every image listed in metadata (containerd unpacks each layer once,
# straight into snapshots/<N>/fs on the disk: whiteouts, opaque markers, xattrs, owners and hard links
# exactly as GKE's containerd would have them), then writes snapshots.metadata, images.metadata and
# gdib.json at the disk's root (docs/architecture.md, Disk layout), unmounts it and reports the outcome (docs/architecture.md, VM status).
#
# Phases: installing → formatting (or mounting, from an image) → pulling/unpacking (per image) → checksumming → done.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=common.sh
source "${BASH_SOURCE[0]%/*}/common.sh" # @inline common.sh

readonly NS=k8s.io
readonly TOKEN_USER=oauth2accesstoken
readonly CTRD_DIR="$GDIB_WORK/containerd"
readonly LOGS="$GDIB_WORK/logs"

CTRD_PID=""
REAL_DEV=""
PULL_PID=""
PULL_JOBS=1       # images pulled at once (choose_pull_jobs)
PULL_JOB=0        # in a background pull: its image's index
declare -A PULL_PIDS=()  # image index → its background pull, while it may run
CHECKSUM_PID=""   # the background checksum worker (start_checksum_worker)
CHECKSUM_FD=""    # its queue, open for writing
FLUSH_PID=""      # a background `sync -f` of the data disk (start_flush)
MOUNTED=false
HOSTS_DIR=""
AUTH=""
PLATFORM=""
STORE_CHECKSUMS=""
RUN_ID=""
DEVICE_NAME=""
DATA_DISK=blank
BUILD_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGES=()
declare -A SNAPSHOT_DIR=()  # chainID → snapshots/<N>/fs
declare -A CHECKSUM=()      # chainID → checksum
CHAINS=()                   # distinct chainIDs, bottom layer first, in image order
# A disk made from a base image (docs/architecture.md, Disk layout): its snapshots directory set aside while
# containerd starts, and what the base's metadata says of each snapshot it holds.
readonly REUSED_DIR=.gdib-reused
declare -A BASE_DIR=()      # chainID → snapshots/<N>/fs on the base disk
declare -A BASE_SUM=()      # chainID → the base's checksum, when it stored them
REUSED=()                   # chainIDs handed back to containerd, parents before children
declare -A REUSED_AT=()     # chainID → its snapshots/<N>/fs now

run_ctr() { ctr --address "$CTRD_DIR/containerd.sock" --namespace "$NS" "$@"; }

# pause SECONDS: sleeps without starting a process (a `read` with a timeout on a FIFO nobody writes to), so the loops
# that wait for containerd, a pull or the checksum worker cost no process each turn. `sleep` until pause_init ran.
PAUSE_FD=""
pause_init() {
  local fifo="$GDIB_WORK/pause.fifo"
  rm -f "$fifo"
  mkfifo -m 0600 "$fifo" && exec {PAUSE_FD}<>"$fifo" && rm -f "$fifo"
}
pause() {
  if [[ -n $PAUSE_FD ]]; then
    read -r -t "$1" -u "$PAUSE_FD" _ || true
  else
    sleep "$1"
  fi
}

# ---- metadata -------------------------------------------------------------------------------------

read_parameters() {
  local mode device_name images_text auth store line
  md_get mode gdib-mode build
  [[ $mode == build ]] || fail "this is the build script but metadata gdib-mode is '$mode'"
  md_get RUN_ID gdib-run-id unknown
  md_get device_name gdib-device-name gdib-data
  [[ $device_name =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || fail "invalid gdib-device-name '$device_name'"
  DEVICE_NAME=$device_name
  md_get images_text gdib-container-images
  md_get auth gdib-image-pull-auth None
  case ${auth,,} in
    none) AUTH=None ;;
    serviceaccounttoken) AUTH=ServiceAccountToken ;;
    auto) AUTH=Auto ;;
    *) fail "invalid gdib-image-pull-auth '$auth' (expected None, ServiceAccountToken or Auto)" ;;
  esac
  md_get store gdib-store-checksums true
  case ${store,,} in
    true | false) STORE_CHECKSUMS=${store,,} ;;
    *) fail "invalid gdib-store-checksums '$store' (expected true or false)" ;;
  esac
  md_get DATA_DISK gdib-data-disk blank
  case $DATA_DISK in
    blank | from-image) ;;
    *) fail "invalid gdib-data-disk '$DATA_DISK' (expected blank or from-image)" ;;
  esac
  md_get PLATFORM gdib-platform linux/amd64
  [[ $PLATFORM =~ ^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?$ ]] || fail "invalid gdib-platform '$PLATFORM'"
  read_registry_secrets

  local -A seen=()
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line//$'\r'/}
    line=${line#"${line%%[![:space:]]*}"}
    line=${line%"${line##*[![:space:]]}"}
    [[ -n $line ]] || continue
    # The OCI reference alphabet; the CLI validated the grammar. Never a leading '-' (an option to ctr).
    [[ $line =~ ^[A-Za-z0-9][A-Za-z0-9._/:@_-]*$ && ${#line} -le 1024 ]] \
      || fail "invalid container image reference in gdib-container-images: '$line'"
    [[ -z ${seen[$line]:-} ]] || continue
    seen[$line]=1
    IMAGES+=("$line")
  done <<<"$images_text"
  ((${#IMAGES[@]} > 0)) || fail "metadata gdib-container-images lists no image"
  log "run ${RUN_ID}: ${#IMAGES[@]} image(s), platform $PLATFORM, pull auth $AUTH, checksums $STORE_CHECKSUMS, data disk $DATA_DISK"
}

# ---- data disk ------------------------------------------------------------------------------------

# Finds the data disk (GDIB_DEV) and makes sure neither it nor the mount point is in use. Sets REAL_DEV.
claim_data_disk() {
  resolve_device "$DEVICE_NAME"
  REAL_DEV=$(readlink -f "$GDIB_DEV")
  ! findmnt -rn -S "$REAL_DEV" >/dev/null || fail "data disk $GDIB_DEV is already mounted"
  ! mountpoint -q "$GDIB_MNT" || fail "$GDIB_MNT is already a mount point"
}

format_and_mount() {
  claim_data_disk
  local real=$REAL_DEV
  log "formatting $GDIB_DEV ($(human_bytes "$(blockdev --getsize64 "$real")")) as ext4"
  # mkfs writes only the superblocks, group descriptors and bitmaps (6 MB of a 200 GB disk). The inode tables
  # (lazy_itable_init=1: ~1.6 % of the disk, 3.3 GB of 200 GB) and the journal (lazy_journal_init=1: 1 GiB from
  # 128 GiB up) are left as the new disk holds them: zeros. The block groups' unused-inode counts say which inodes
  # were never used, so neither the kernel nor e2fsck reads those, and noinit_itable keeps the kernel from zeroing
  # them in the background while the build writes; the journal's own superblock says it is empty, so no mount
  # replays it (docs/architecture.md, Disk layout). GDIB_MKFS_LAZY_ITABLE=0 and GDIB_MKFS_LAZY_JOURNAL=0 write them
  # as before, for the benchmark's comparisons only (docs/architecture.md, Test seams).
  local itable=1 journal=1 options=discard,defaults,noinit_itable
  [[ ${GDIB_MKFS_LAZY_ITABLE:-1} != 0 ]] || { itable=0; options=discard,defaults; }
  [[ ${GDIB_MKFS_LAZY_JOURNAL:-1} != 0 ]] || journal=0
  mkfs.ext4 -q -F -m 0 -E "lazy_itable_init=$itable,lazy_journal_init=$journal,discard" "$GDIB_DEV" >"$LOGS/mkfs.log" 2>&1 \
    || fail "formatting $GDIB_DEV failed: $(tail -n 1 "$LOGS/mkfs.log")"
  mkdir -p "$GDIB_MNT"
  mount -o "$options" "$GDIB_DEV" "$GDIB_MNT" || fail "mounting $GDIB_DEV on $GDIB_MNT failed"
  MOUNTED=true
}

# Starts writing the data disk's dirty pages now, in the background, unless such a flush still runs: the kernel
# would otherwise hold the unpacked files in memory until the final sync (its writeback starts only at 10 % of the
# memory or after 30 s), and the disk would sit idle while the next images pull, then write everything at the end.
# GDIB_FLUSH_OVERLAP=0 leaves it all to the end, for the benchmark's comparisons only (docs/architecture.md, Test seams).
start_flush() {
  [[ $MOUNTED == true && ${GDIB_FLUSH_OVERLAP:-1} != 0 ]] || return 0
  [[ -z $FLUSH_PID ]] || ! kill -0 "$FLUSH_PID" 2>/dev/null || return 0
  # Without the checksum queue: the worker sees its end only once every writer has closed it.
  (
    [[ -z $CHECKSUM_FD ]] || exec {CHECKSUM_FD}>&-
    exec sync -f "$GDIB_MNT"
  ) 2>/dev/null &
  FLUSH_PID=$!
}

unmount_data_disk() {
  [[ $MOUNTED == true ]] || return 0
  # A background flush holds the mount point open: it ends once what it started is written.
  [[ -z $FLUSH_PID ]] || wait "$FLUSH_PID" 2>/dev/null || true
  FLUSH_PID=""
  sync
  local try
  for try in 1 2 3 4 5; do
    if umount "$GDIB_MNT" 2>>"$LOGS/umount.log"; then
      MOUNTED=false
      sync
      return 0
    fi
    sleep "$try"
  done
  return 1
}

# ---- a disk made from a base image ------------------------------------------------------------------

# The base disk is not this tool's: say why, in one line.
not_ours() { fail "the data disk made from the base image does not hold gke-disk-image-builder's layout: $*"; }

# Mounts a data disk created from an image this tool built (gdib-data-disk=from-image) without formatting it,
# checks it holds this tool's layout, grows its filesystem to the disk, and sets its snapshots directory aside
# (a rename on the same filesystem) so that the fresh containerd starts with an empty one (docs/architecture.md, Disk layout).
# noinit_itable as for a fresh disk (see format_and_mount): a base formatted with lazy inode tables is not to have them
# zeroed in the background while the build writes.
readonly BASE_MOUNT_OPTIONS=discard,defaults,noinit_itable
mount_base_disk() {
  claim_data_disk
  local real=$REAL_DEV
  mkdir -p "$GDIB_MNT"
  mount -t ext4 -o "$BASE_MOUNT_OPTIONS" "$GDIB_DEV" "$GDIB_MNT" 2>"$LOGS/mount.log" \
    || not_ours "it holds no ext4 filesystem that mounts ($(tail -n 1 "$LOGS/mount.log"))"
  MOUNTED=true
  read_base_layout
  grow_filesystem "$real"
  # This build writes its own metadata files; until then the disk must not look like a finished one.
  rm -f "$GDIB_MNT/gdib.json" "$GDIB_MNT/snapshots.metadata" "$GDIB_MNT/images.metadata" "$GDIB_MNT/metadata.db"
  mv -T "$GDIB_MNT/snapshots" "$GDIB_MNT/$REUSED_DIR" || fail "cannot set the base image's snapshots aside"
}

# Reads the base disk's snapshots.metadata (directory and checksum of each chain) and gdib.json (the parent of
# each chain, from the images' layer lists) into BASE_DIR, BASE_SUM, BASE_PARENT and REUSE_ORDER.
declare -A BASE_PARENT=()   # chainID → its parent's chainID ("" for a bottom layer)
REUSE_ORDER=()              # the base's chainIDs, parents before children
read_base_layout() {
  GDIB_STEP="checking the base image's disk"
  local info="$GDIB_MNT/gdib.json" list="$GDIB_MNT/snapshots.metadata" tool line chain dir sum extra parent n=0
  [[ -f $info ]] || not_ours "no gdib.json at its root"
  tool=$(jq -r 'if type == "object" then .tool // "" else "" end' "$info" 2>/dev/null) || not_ours "gdib.json is not JSON"
  [[ $tool == gke-disk-image-builder ]] || not_ours "gdib.json names tool '$(one_line "${tool:0:60}")'"
  [[ -f $list ]] || not_ours "no snapshots.metadata at its root"
  [[ -d $GDIB_MNT/snapshots ]] || not_ours "no snapshots directory"
  [[ ! -e $GDIB_MNT/$REUSED_DIR ]] || not_ours "it still has a $REUSED_DIR directory"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ -n $line ]] || continue
    chain="" dir="" sum="" extra=""
    read -r chain dir sum extra <<<"$line"
    [[ $chain =~ ^sha256:[0-9a-f]{64}$ && $dir =~ ^snapshots/[0-9]+/fs$ && -z $extra && $sum =~ ^([0-9a-f]{32})?$ ]] \
      || not_ours "snapshots.metadata line $n is malformed"
    [[ -d $GDIB_MNT/$dir ]] || not_ours "snapshots.metadata lists $dir, which is missing"
    BASE_DIR[$chain]=$dir
    [[ -z $sum ]] || BASE_SUM[$chain]=$sum
  done <"$list"
  ((${#BASE_DIR[@]} > 0)) || not_ours "snapshots.metadata lists no snapshot"
  while read -r chain parent; do
    [[ -z ${BASE_PARENT[$chain]+set} ]] || continue
    [[ -n ${BASE_DIR[$chain]:-} ]] || not_ours "gdib.json lists snapshot $chain, which snapshots.metadata does not"
    [[ $parent != - ]] || parent=""
    BASE_PARENT[$chain]=$parent
    REUSE_ORDER+=("$chain")
  done < <(jq -r '.images[]? | [.layers[]?.chainID] as $c | range(0; $c | length)
    | "\($c[.]) \(if . > 0 then $c[. - 1] else "-" end)"' "$info" 2>/dev/null)
  ((${#REUSE_ORDER[@]} == ${#BASE_DIR[@]})) \
    || not_ours "gdib.json describes ${#REUSE_ORDER[@]} snapshot(s), snapshots.metadata lists ${#BASE_DIR[@]}"
  log "base disk: ${#REUSE_ORDER[@]} snapshot(s) of $(jq -r '[.images[]?] | length' "$info") image(s), built $(jq -r '.builtAt // "?"' "$info") by version $(jq -r '.version // "?"' "$info")"
}

# Grows the filesystem to the whole block device (the disk may be larger than the base image): online, as GCE
# guests grow their disks. Where the kernel refuses an online resize (a container without CAP_SYS_RESOURCE, such
# as the test rig), it grows it unmounted instead, after the check resize2fs then insists on.
grow_filesystem() {
  local real=$1 dev_bytes count size log="$LOGS/resize2fs.log"
  dev_bytes=$(blockdev --getsize64 "$real")
  count=$(dumpe2fs -h "$GDIB_DEV" 2>/dev/null | sed -n 's/^Block count: *//p')
  size=$(dumpe2fs -h "$GDIB_DEV" 2>/dev/null | sed -n 's/^Block size: *//p')
  [[ $count =~ ^[0-9]+$ && $size =~ ^[0-9]+$ ]] || fail "cannot read the size of the filesystem on $GDIB_DEV"
  ((dev_bytes - count * size >= size)) || return 0
  GDIB_STEP="growing the filesystem"
  local started=$SECONDS
  log "growing the filesystem from $(human_bytes $((count * size))) to $(human_bytes "$dev_bytes")"
  if resize2fs "$GDIB_DEV" >"$log" 2>&1; then
    log "filesystem grown online in $((SECONDS - started)) s"
    return 0
  fi
  grep -q 'Permission denied' "$log" || fail "growing the filesystem on $GDIB_DEV failed: $(tail -n 1 "$log")"
  log "online resizing is not permitted here: growing the filesystem unmounted"
  umount "$GDIB_MNT" || fail "cannot unmount $GDIB_MNT to grow its filesystem"
  MOUNTED=false
  e2fsck -f -p "$GDIB_DEV" >>"$log" 2>&1 || (($? < 4)) || fail "the filesystem of the base image has errors: $(tail -n 1 "$log")"
  resize2fs "$GDIB_DEV" >>"$log" 2>&1 || fail "growing the filesystem on $GDIB_DEV failed: $(tail -n 1 "$log")"
  mount -t ext4 -o "$BASE_MOUNT_OPTIONS" "$GDIB_DEV" "$GDIB_MNT" || fail "mounting $GDIB_DEV on $GDIB_MNT failed"
  MOUNTED=true
  log "filesystem grown unmounted in $((SECONDS - started)) s"
}

# Hands the base's snapshots back to the fresh containerd, parents first, without copying a byte: each becomes
# an active snapshot on its parent whose empty fs directory is swapped (a rename) for the old one, then is
# committed under its chain ID. `ctr snapshots prepare` and `commit` both label it a GC root, so the collector
# cannot take it before an image references it. containerd then finds the chain when it unpacks an image and
# neither fetches nor unpacks that layer again.
restore_base_snapshots() {
  GDIB_STEP="reusing the base image's snapshots"
  local k=0 chain parent key dir old mounts started=$SECONDS
  for chain in "${REUSE_ORDER[@]}"; do
    k=$((k + 1))
    parent=${BASE_PARENT[$chain]}
    key="gdib-reuse-$k"
    old="$GDIB_MNT/$REUSED_DIR/${BASE_DIR[$chain]#snapshots/}"
    # The new snapshot's directory, from the mounts prepare prints: a bind mount of it, or the overlay's upperdir.
    mounts=$(run_ctr snapshots --snapshotter overlayfs prepare --mounts "$key" ${parent:+"$parent"} 2>>"$LOGS/ctr.log") \
      || fail "containerd refused to take back snapshot $chain of the base image: $(tail -n 1 "$LOGS/ctr.log")"
    dir=$(jq -r '.[0] | if .Type == "bind" then .Source else (.Options[] | select(startswith("upperdir=")) | ltrimstr("upperdir=")) end' \
      <<<"$mounts" 2>/dev/null) || dir=""
    dir=${dir#"$GDIB_MNT"/}
    [[ $dir =~ ^snapshots/[0-9]+/fs$ && -d $GDIB_MNT/$dir ]] || fail "containerd put reused snapshot $chain in '$dir'"
    { rmdir "$GDIB_MNT/$dir" && mv -T "$old" "$GDIB_MNT/$dir"; } || fail "cannot move ${BASE_DIR[$chain]} of the base image to $dir"
    run_ctr snapshots --snapshotter overlayfs commit "$chain" "$key" 2>>"$LOGS/ctr.log" \
      || fail "containerd could not commit reused snapshot $chain: $(tail -n 1 "$LOGS/ctr.log")"
    REUSED+=("$chain")
    REUSED_AT[$chain]=$dir
  done
  log "reused ${#REUSED[@]} snapshot(s) of the base image in $((SECONDS - started)) s"
}

# Removes the reused snapshots that no image of this build needs, children before parents, then what is left
# of the set-aside directory: the disk then holds exactly what a fresh build of these images would.
remove_unused_base() {
  GDIB_STEP="removing the snapshots no image needs"
  local -A needed=()
  local chain k dir removed=()
  for chain in "${CHAINS[@]}"; do needed[$chain]=1; done
  for ((k = ${#REUSED[@]} - 1; k >= 0; k--)); do
    chain=${REUSED[$k]}
    [[ -z ${needed[$chain]:-} ]] || continue
    run_ctr snapshots --snapshotter overlayfs rm "$chain" 2>>"$LOGS/ctr.log" \
      || fail "cannot remove snapshot $chain, which no image of this build needs: $(tail -n 1 "$LOGS/ctr.log")"
    removed+=("${REUSED_AT[$chain]}")
  done
  # containerd deletes a removed snapshot's directory when it collects garbage: now, and wait for it.
  { run_ctr leases create --id gdib-collect >/dev/null && run_ctr leases delete --sync gdib-collect; } 2>>"$LOGS/ctr.log" \
    || fail "containerd's garbage collection failed: $(tail -n 1 "$LOGS/ctr.log")"
  for dir in "${removed[@]}"; do
    [[ ! -e $GDIB_MNT/${dir%/fs} ]] || fail "containerd left the directory of a removed snapshot: ${dir%/fs}"
  done
  rm -rf "${GDIB_MNT:?}/$REUSED_DIR"
  log "kept $((${#REUSED[@]} - ${#removed[@]})) reused snapshot(s), removed ${#removed[@]} that no image of this build needs"
}

# ---- containerd ------------------------------------------------------------------------------------

# Our own containerd: config, root, state and socket under the work dir; its overlayfs snapshotter
# rooted on the data disk, labelling every snapshot with its directory.
start_containerd() {
  GDIB_STEP="starting containerd"
  rm -rf "$CTRD_DIR"
  # Unix socket paths are limited to 108 bytes (104 on some systems); say so instead of failing obscurely.
  if ((${#CTRD_DIR} + 24 > 104)); then
    fail "the work dir $CTRD_DIR is too long for containerd's sockets: set GDIB_WORK_DIR to a path under 80 characters"
  fi
  mkdir -p "$CTRD_DIR/tmp"
  # On a reused disk the collector runs only when asked (remove_unused_base): on its own it could take the
  # content placeholders of seed_reused_layers before a pull adopts them.
  local reuse=""
  [[ $DATA_DISK != from-image ]] || reuse='
[plugins."io.containerd.gc.v1.scheduler"]
  deletion_threshold = 1000000
  mutation_threshold = 1000000
  startup_delay = "24h"

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "shared"'
  cat >"$CTRD_DIR/config.toml" <<EOF
version = 2
root = "$CTRD_DIR/root"
state = "$CTRD_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTRD_DIR/containerd.sock"

[ttrpc]
  address = "$CTRD_DIR/containerd.sock.ttrpc"

[plugins."io.containerd.snapshotter.v1.overlayfs"]
  root_path = "$GDIB_MNT"
  upperdir_label = true
$reuse
EOF
  # TMPDIR: containerd's scratch files stay under the work dir too. CONTAINERD_DISABLE_PIGZ: containerd
  # decompresses layers itself even where unpigz happens to be installed — measured no faster at more CPU
  # (docs/benchmarks.md §5), so every machine decompresses the same way; the benchmark sets it to 0 to compare.
  env -u XDG_RUNTIME_DIR TMPDIR="$CTRD_DIR/tmp" CONTAINERD_DISABLE_PIGZ="${CONTAINERD_DISABLE_PIGZ:-1}" \
    containerd --config "$CTRD_DIR/config.toml" \
    >"$LOGS/containerd.log" 2>&1 &
  CTRD_PID=$!
  # Its socket appears when it is about to serve: until then, no `ctr` (a process each try) is started.
  local i
  for ((i = 1; i <= 300; i++)); do
    [[ ! -S $CTRD_DIR/containerd.sock ]] || ! run_ctr version >/dev/null 2>&1 || return 0
    kill -0 "$CTRD_PID" 2>/dev/null || break
    pause 0.1
  done
  grep -a 'level=\(error\|fatal\)' "$LOGS/containerd.log" | tail -n 5 | sed 's/^/gdib: containerd: /' || true
  local last
  last=$(grep -av '^\s*$' "$LOGS/containerd.log" | tail -n 1 | cut -c1-300)
  fail "containerd did not start (after ${i} tries)${last:+: $last}"
}

stop_containerd() {
  [[ -n $CTRD_PID ]] || return 0
  kill -TERM "$CTRD_PID" 2>/dev/null || true
  local i
  for ((i = 1; i <= 100; i++)); do
    kill -0 "$CTRD_PID" 2>/dev/null || break
    pause 0.1
  done
  kill -KILL "$CTRD_PID" 2>/dev/null || true
  wait "$CTRD_PID" 2>/dev/null || true
  CTRD_PID=""
  # Temporary mounts (root/tmpmounts: base layers are unpacked through a bind mount of their
  # snapshot) left if containerd was stopped in the middle of an unpack; deepest first.
  local target
  findmnt -rn -o TARGET | { grep -F "$CTRD_DIR/" || true; } | sort -r | while IFS= read -r target; do
    umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true
  done
}

# Registry hosts: docker.io through Google's mirror unless the hosts dir already says otherwise.
configure_hosts() {
  HOSTS_DIR="${GDIB_HOSTS_DIR:-$GDIB_WORK/certs.d}"
  mkdir -p "$HOSTS_DIR/docker.io"
  if [[ ! -e $HOSTS_DIR/docker.io/hosts.toml ]]; then
    cat >"$HOSTS_DIR/docker.io/hosts.toml" <<'EOF'
server = "https://registry-1.docker.io"

[host."https://mirror.gcr.io"]
  capabilities = ["pull", "resolve"]
EOF
  fi
}

# ---- pulling -----------------------------------------------------------------------------------------

# The reference containerd needs: docker.io and library/ made explicit, :latest when untagged.
normalize_ref() {
  local ref=$1 first=${1%%/*} name
  if [[ $ref != */* ]] || [[ $first != *.* && $first != *:* && $first != localhost ]]; then
    ref="docker.io/$ref"
  fi
  first=${ref%%/*}
  if [[ $first == docker.io || $first == index.docker.io ]] && [[ ${ref#*/} != */* ]]; then
    ref="docker.io/library/${ref#*/}"
  fi
  name=${ref##*/}
  [[ $name == *:* || $name == *@* ]] || ref="$ref:latest"
  printf '%s' "$ref"
}

is_google_registry() {
  local host=${1%:*}
  [[ $host == gcr.io || $host == *.gcr.io || $host == *-docker.pkg.dev || $host == *.pkg.dev ]]
}

uses_token() {
  case $AUTH in
    ServiceAccountToken) return 0 ;;
    Auto) is_google_registry "${1%%/*}" ;;
    *) return 1 ;;
  esac
}

# fetch_token VAR: a fresh access token of the VM's service account. Never printed.
fetch_token() {
  local -n fetch_token_dest=$1
  local body err
  err=$(mktemp)
  if ! body=$(curl -sS --fail --max-time 10 --retry 3 --retry-connrefused -H 'Metadata-Flavor: Google' \
    "$(md_url service-accounts/default/token)" 2>"$err"); then
    FETCH_TOKEN_ERROR=$(tail -n 1 "$err")
    rm -f "$err"
    return 1
  fi
  rm -f "$err"
  fetch_token_dest=$(printf '%s' "$body" | jq -r '.access_token // empty' 2>/dev/null) || true
  body=""
  FETCH_TOKEN_ERROR="the token endpoint returned no access_token"
  [[ -n $fetch_token_dest ]]
}

# Drops URL query strings (signed URLs) and the current pull's credentials from a line before it is shown.
redact() {
  local s=$1
  scrub_credentials s
  printf '%s' "$s" | sed -E 's/\?[^ "]*/?[redacted]/g'
}

# ---- registry secrets (docs/architecture.md, Registry secrets) ---------------------------------------

declare -A REGISTRY_SECRET=() # registry host → projects/P/secrets/NAME/versions/V
PULL_SECRET=""                # the secret version whose credentials the current pull uses
PULL_USER=""
PULL_PASSWORD=""              # never shown: scrub_credentials removes it, and its base64 forms
PULL_SECRET_FORMS=()

# scrub_credentials VAR: removes the current token and password (as is and base64-encoded) from VAR.
scrub_credentials() {
  local -n scrub_dest=$1
  local form
  [[ -z ${PULL_TOKEN:-} ]] || scrub_dest=${scrub_dest//"$PULL_TOKEN"/[redacted]}
  for form in "${PULL_SECRET_FORMS[@]}"; do
    [[ -z $form ]] || scrub_dest=${scrub_dest//"$form"/[redacted]}
  done
}

# Copies stdin to stdout, line by line, without the current credentials (ctr's output, before it is written).
redact_stream() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    scrub_credentials line
    printf '%s\n' "$line"
  done
}

# Reads gdib-registry-secrets: `HOST=projects/P/secrets/NAME/versions/V` lines, names only (the VM reads the secrets).
read_registry_secrets() {
  local text line host name
  md_get text gdib-registry-secrets ""
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line//$'\r'/}
    [[ -n ${line//[[:space:]]/} ]] || continue
    host=${line%%=*}
    name=${line#*=}
    [[ $line == *=* && $host =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?$ ]] \
      || fail "invalid registry host in gdib-registry-secrets: '$line'"
    [[ $name =~ ^projects/[a-z0-9][a-z0-9.:-]*/secrets/[A-Za-z0-9_-]+/versions/(latest|[0-9]+)$ ]] \
      || fail "invalid secret version in gdib-registry-secrets: '$name'"
    REGISTRY_SECRET[$host]=$name
  done <<<"$text"
  ((${#REGISTRY_SECRET[@]} == 0)) || log "registry secrets for: ${!REGISTRY_SECRET[*]}"
}

# The checks both secret formats share, on PULL_USER and PULL_PASSWORD; WHERE names what held them.
check_credentials() {
  local where=$1
  if [[ -z $PULL_USER ]]; then
    PARSE_SECRET_ERROR="$where has an empty user name"
  elif [[ $PULL_USER == *:* ]]; then
    PARSE_SECRET_ERROR="$where has a \":\" in its user name"
  elif [[ -z $PULL_PASSWORD ]]; then
    PARSE_SECRET_ERROR="$where has an empty password"
  elif [[ $PULL_USER$PULL_PASSWORD == *[$'\r\n']* ]]; then
    PARSE_SECRET_ERROR="$where has a line break in its user name or password"
  else
    return 0
  fi
  PULL_USER=""
  PULL_PASSWORD=""
  return 1
}

# A Docker config.json's credentials for $host: `ok<TAB>base64(user)<TAB>base64(password)` or `error<TAB>why`.
# shellcheck disable=SC2016 # a jq program, not shell
readonly DOCKER_CONFIG_JQ='
  def host_of: sub("^[a-zA-Z]+://"; "") | sub("/.*$"; "") | ascii_downcase;
  (if $host == "docker.io" then ["docker.io", "index.docker.io", "registry-1.docker.io"] else [$host] end) as $want
  | "the \"auths\" entry for \($host)" as $where
  | if (.auths | type) != "object" then "error\tthe Docker config.json has no \"auths\" object"
    else ([.auths | to_entries[] | select(.key | host_of | IN($want[]))] | first) as $e
    | if $e == null then "error\tthe Docker config.json has no \"auths\" entry for \($host)"
      else ($e.value // {}) as $v
      | if ($v.auth | type) == "string" and $v.auth != "" then
          if ($v.auth | test("^[A-Za-z0-9+/]*={0,2}$") | not) then "error\t\($where) has an \"auth\" that is not base64"
          else ($v.auth | @base64d | split(":")) as $p
          | if ($p | length) < 2 then "error\t\($where) has an \"auth\" that is not base64 of USERNAME:PASSWORD"
            else "ok\t\($p[0] | @base64)\t\($p[1:] | join(":") | @base64)" end
          end
        elif ($v.username | type) == "string" and ($v.password | type) == "string" then
          "ok\t\($v.username | @base64)\t\($v.password | @base64)"
        else "error\t\($where) has neither \"auth\" nor \"username\" and \"password\"" end
      end
    end'

# parse_registry_secret HOST TEXT: PULL_USER and PULL_PASSWORD from a secret's text (USERNAME:PASSWORD, or a Docker
# config.json with an `auths` entry for HOST), or returns 1 with PARSE_SECRET_ERROR (which never quotes the secret).
# The same formats as src/registry/secret-format.ts, tested against the same fixtures.
parse_registry_secret() {
  local host=$1 text=${2#$'\xef\xbb\xbf'} trimmed line result status user64 pass64
  PARSE_SECRET_ERROR=""
  PULL_USER=""
  PULL_PASSWORD=""
  trimmed=${text#"${text%%[![:space:]]*}"}
  if [[ $trimmed == '{'* ]]; then
    result=$(printf '%s' "$trimmed" | jq -r --arg host "$host" "$DOCKER_CONFIG_JQ" 2>/dev/null) || {
      PARSE_SECRET_ERROR='it starts with "{" but is not valid JSON (expected a Docker config.json)'
      return 1
    }
    IFS=$'\t' read -r status user64 pass64 <<<"$result"
    if [[ $status != ok ]]; then
      PARSE_SECRET_ERROR=${result#error$'\t'}
      return 1
    fi
    PULL_USER=$(printf '%s' "$user64" | base64 -d)
    PULL_PASSWORD=$(printf '%s' "$pass64" | base64 -d)
    check_credentials "the \"auths\" entry for $host"
    return
  fi
  line=$text
  while [[ $line == *[$'\r\n'] ]]; do line=${line%?}; done
  if [[ $line == *[$'\r\n']* ]]; then
    PARSE_SECRET_ERROR='expected USERNAME:PASSWORD on one line, or a Docker config.json'
    return 1
  fi
  if [[ $line != *:* ]]; then
    PARSE_SECRET_ERROR='expected USERNAME:PASSWORD (no ":" found), or a Docker config.json'
    return 1
  fi
  PULL_USER=${line%%:*}
  PULL_PASSWORD=${line#*:}
  check_credentials "the secret"
}

# read_registry_secret HOST NAME: PULL_USER and PULL_PASSWORD from secret version NAME, read with a fresh token of the
# VM's service account. The token goes to curl on stdin, the secret only into this shell's variables.
read_registry_secret() {
  local host=$1 name=$2 endpoint=${GDIB_SECRETMANAGER_ENDPOINT:-https://secretmanager.googleapis.com} token="" resp code body text err why
  fetch_token token || fail "cannot get an access token from the metadata server to read secret $name: $FETCH_TOKEN_ERROR"
  err=$(mktemp)
  resp=$(printf 'Authorization: Bearer %s\n' "$token" | curl -sS --max-time 30 --retry 3 --retry-connrefused -H @- \
    -w '\n%{http_code}' "${endpoint%/}/v1/$name:access" 2>"$err") || resp=$'\n000'
  token=""
  code=${resp##*$'\n'}
  body=${resp%$'\n'*}
  resp=""
  why=$(tail -n 1 "$err")
  rm -f "$err"
  case $code in
    200) ;;
    000) fail "cannot reach Secret Manager at $endpoint to read secret $name: $why" ;;
    403) fail "the VM's service account may not read secret $name (HTTP 403): grant it roles/secretmanager.secretAccessor on the secret" ;;
    404) fail "secret $name does not exist (HTTP 404)" ;;
    *)
      why=$(printf '%s' "$body" | jq -r '.error.message // empty' 2>/dev/null | head -c 300 || true)
      fail "reading secret $name failed (HTTP $code)${why:+: $why}"
      ;;
  esac
  text=$(printf '%s' "$body" | jq -r '.payload.data // empty' 2>/dev/null | base64 -d 2>/dev/null) \
    || fail "secret $name: Secret Manager's answer holds no payload"
  body=""
  if ! parse_registry_secret "$host" "$text"; then
    [[ $PARSE_SECRET_ERROR == expected* ]] \
      || PARSE_SECRET_ERROR+="; expected USERNAME:PASSWORD, or a Docker config.json with an \"auths\" entry for $host"
    fail "secret $name holds no credentials for $host: $PARSE_SECRET_ERROR"
  fi
  text=""
  PULL_SECRET_FORMS=("$PULL_PASSWORD" "$(printf '%s' "$PULL_USER:$PULL_PASSWORD" | base64 -w0)" "$(printf '%s' "$PULL_PASSWORD" | base64 -w0)")
}

# use_registry_secret REF: whether REF's host has a secret; if so, its credentials are read (PULL_USER, PULL_PASSWORD).
use_registry_secret() {
  PULL_SECRET=${REGISTRY_SECRET[${1%%/*}]:-}
  [[ -n $PULL_SECRET ]] || return 1
  read_registry_secret "${1%%/*}" "$PULL_SECRET"
}

# Forgets the current pull's credentials.
forget_credentials() {
  PULL_TOKEN=""
  PULL_USER=""
  PULL_PASSWORD=""
  PULL_SECRET_FORMS=()
}

pull_failed() {
  local ref=$1 log=$2 detail nospace
  detail=$(grep -a '^ctr: ' "$log" | tail -n 1 || true)
  [[ -n $detail ]] || detail=$(grep -av '^\s*$' "$log" | tail -n 1 || true)
  detail=$(redact "${detail#ctr: }")
  grep -av '^\s*$' "$log" | tail -n 20 | while IFS= read -r line; do log "ctr: $(redact "$line")"; done
  nospace=$(grep -ai 'no space left on device' "$log" | tail -n 1 || true)
  if [[ -n $nospace ]]; then
    # Unpacking writes to the data disk (directly, or through a temporary bind mount under
    # containerd's root); downloading writes to the content store on the boot disk.
    if [[ $nospace == *"failed to extract layer"* || $nospace == *"$GDIB_MNT/"* || $nospace == *"/tmpmounts/"* ]]; then
      fail "the data disk ($(human_bytes "$(disk_size "$GDIB_MNT")")) is full: unpacking $ref needs more space; raise --disk-size-gb"
    fi
    fail "the VM's boot disk is full while downloading $ref ($(human_bytes "$(disk_avail "$GDIB_WORK")") free): $detail"
  elif grep -qaiE 'unauthorized|forbidden|denied|40[13] ' "$log"; then
    if [[ -n $PULL_SECRET ]]; then
      fail "the registry refused $ref with the credentials of secret $PULL_SECRET ($detail): check the user name and password in the secret"
    fi
    if [[ -n $PULL_TOKEN ]]; then
      fail "the registry refused $ref with the VM's service-account token ($detail): give that service account read access to the image"
    fi
    fail "the registry refused $ref ($detail): for a private image use --image-pull-auth=ServiceAccountToken or Auto and give the VM's service account read access"
  elif grep -qai 'no match for platform' "$log"; then
    fail "image $ref has no $PLATFORM variant (--platform): $detail"
  elif grep -qai 'not found' "$log"; then
    fail "image $ref not found: $detail"
  else
    fail "pulling $ref failed: $detail"
  fi
}

# Copies a pull's output (what is left once grep has dropped ctr's debug lines) into its log, line by line, without
# the current credentials; the first `unpacking` line is also announced on stdout, for pull_image.
pull_output() {
  local line announced=false
  while IFS= read -r line || [[ -n $line ]]; do
    scrub_credentials line
    printf '%s\n' "$line" >&3
    if [[ $announced == false && $line == 'unpacking '* ]]; then
      announced=true
      printf 'unpacking\n'
    fi
  done 3>"$1"
}

pull_image() {
  local i=$1 n=$2 ref=$3 full log events event pid rc="" current=pulling started=$SECONDS last=$SECONDS wait_s
  full=$(normalize_ref "$ref")
  log="$LOGS/pull-$i.log"
  local args=(--hosts-dir "$HOSTS_DIR" --platform "$PLATFORM" --snapshotter overlayfs --print-chainid)
  GDIB_STEP="pulling $ref"
  report_status phase pulling
  progress "image $i/$n $ref: pulling"
  [[ $DATA_DISK != from-image ]] || seed_reused_layers "$i" "$ref"
  GDIB_STEP="pulling $ref"
  forget_credentials
  if use_registry_secret "$full"; then
    args+=(--user "$PULL_USER:$PULL_PASSWORD")
    log "pulling $i/$n $ref with the credentials of secret $PULL_SECRET"
  elif uses_token "$full"; then
    fetch_token PULL_TOKEN || fail "cannot get an access token for $ref from the metadata server: $FETCH_TOKEN_ERROR"
    args+=(--user "$TOKEN_USER:$PULL_TOKEN")
    log "pulling $i/$n $ref with a fresh service-account token"
  else
    log "pulling $i/$n $ref"
  fi
  # `ctr --debug` draws no progress table (without it ctr redraws one every 100 ms, asking containerd for the status of
  # every download each time); its debug lines are dropped here, so the log holds what a plain pull prints. The pull
  # runs as a process substitution whose output is this loop's events: `unpacking` once the layers are fetched, then
  # `exit <status>`. The loop blocks on them, waking every 15 s for a progress line.
  exec {events}< <(
    set +e
    run_ctr --debug images pull "${args[@]}" -- "$full" 2>&1 \
      | grep -av --line-buffered -E '^time="[^"]*" level=debug |elapsed: [0-9.]+ ?s|\|.*\|' | pull_output "$log"
    printf 'exit %s\n' "${PIPESTATUS[0]}"
  )
  pid=$!
  PULL_PID=$pid
  args=()
  while :; do
    wait_s=$((last + 15 - SECONDS))
    ((wait_s >= 1)) || wait_s=1
    if read -r -t "$wait_s" -u "$events" event; then
      case $event in
        unpacking)
          current=unpacking
          GDIB_STEP="unpacking $ref"
          report_status phase unpacking
          ;;
        exit\ *)
          rc=${event#exit }
          break
          ;;
      esac
    elif (($? > 128)); then
      last=$SECONDS
      local downloaded
      downloaded=$(du -sb "$CTRD_DIR/root/io.containerd.content.v1.content" 2>/dev/null | cut -f1 || echo 0)
      progress "image $i/$n $ref: $current for $((SECONDS - started)) s, $(human_bytes "${downloaded:-0}") downloaded in all, $(human_bytes "$(disk_used "$GDIB_MNT")") on the data disk"
    else
      break # the end of the events without a status: the pull was cut short
    fi
  done
  exec {events}<&-
  wait "$pid" 2>/dev/null || true
  PULL_PID=""
  [[ $rc =~ ^[0-9]+$ ]] || rc=1
  ((rc == 0)) || pull_failed "$ref" "$log"
  forget_credentials
  PULLED_TARGET="" PULLED_CHAIN=""
  local line
  while IFS= read -r line; do
    [[ ! $line =~ ^unpacking\ [^\ ]+\ (sha256:[0-9a-f]{64}) ]] || PULLED_TARGET=${BASH_REMATCH[1]}
    [[ ! $line =~ ^image\ chain\ ID:\ (sha256:[0-9a-f]{64}) ]] || PULLED_CHAIN=${BASH_REMATCH[1]}
  done <"$log"
  [[ -n $PULLED_TARGET && -n $PULLED_CHAIN ]] || fail "ctr pulled $ref but did not report what it unpacked"
  log "pulled $i/$n $ref in $((SECONDS - started)) s ($PULLED_TARGET)"
}

# ---- pulling onto a reused disk -------------------------------------------------------------------------

# The chain ID of a layer on top of chain $1 ("" for a bottom layer) with diffID $2.
next_chain() {
  if [[ -z $1 ]]; then
    printf '%s' "$2"
  else
    printf 'sha256:%s' "$(printf '%s %s' "$1" "$2" | sha256sum | cut -d' ' -f1)"
  fi
}

# The repository of a normalized reference: without its tag or digest (a registry's port stays).
repository_of() {
  local name=${1%@*}
  [[ ${name##*/} != *:* ]] || name=${name%:*}
  printf '%s' "$name"
}

# fetch_object REF OUT [DIGEST SIZE]: one object of an image (index, manifest, config or layer) from its
# registry into OUT, checked against DIGEST and SIZE when given. ctr's output goes to PULL_LOG.
fetch_object() {
  local ref=$1 out=$2 want=${3:-} size=${4:-} got args=(--hosts-dir "$HOSTS_DIR")
  if [[ -n $PULL_PASSWORD ]]; then
    args+=(--user "$PULL_USER:$PULL_PASSWORD")
  elif [[ -n $PULL_TOKEN ]]; then
    args+=(--user "$TOKEN_USER:$PULL_TOKEN")
  fi
  # ctr's errors pass through the scrubber before they reach the log, as a pull's do.
  if ! run_ctr content fetch-object "${args[@]}" -- "$ref" >"$out" 2>"$PULL_LOG.err"; then
    args=()
    redact_stream <"$PULL_LOG.err" >>"$PULL_LOG"
    rm -f "$PULL_LOG.err"
    return 1
  fi
  args=()
  redact_stream <"$PULL_LOG.err" >>"$PULL_LOG"
  rm -f "$PULL_LOG.err"
  [[ -n $want ]] || return 0
  got="sha256:$(sha256sum "$out" | cut -d' ' -f1)"
  if [[ $got != "$want" || $(stat -c %s "$out") != "$size" ]]; then
    printf 'ctr: %s: the registry sent %s bytes with digest %s\n' "$ref" "$(stat -c %s "$out")" "$got" >>"$PULL_LOG"
    return 1
  fi
}

# Before an image is pulled onto a reused disk. ctr 1.6's `images pull` downloads every layer before it unpacks,
# even a layer whose chain is already a snapshot (only the CRI's pull skips those), and `ctr content fetch-object`
# refuses blobs over 4 MiB. So each layer whose chain containerd already has gets a placeholder in its content
# store: a sparse file of the blob's size, which the store takes for the blob (content_sharing_policy "shared"
# adopts a blob present in the store by its size, without reading it). The pull then fetches only the missing
# layers, and unpacking, which finds the chain, never reads a placeholder; were one ever read, decompression or the
# diffID check would fail the pull, so a placeholder cannot reach the disk (docs/architecture.md, Disk layout).
seed_reused_layers() {
  local i=$1 ref=$2 full repo json digest msize k chain="" layer lsize seeded=0 bytes=0 tmp
  local store="$CTRD_DIR/root/io.containerd.content.v1.content/blobs/sha256"
  local -a diffs layers
  full=$(normalize_ref "$ref")
  repo=$(repository_of "$full")
  PULL_LOG="$LOGS/seed-$i.log"
  : >"$PULL_LOG"
  tmp="$GDIB_WORK/seed-$i" # per image: several pulls run at once
  rm -rf "$tmp"
  mkdir -p "$tmp" "$store"
  GDIB_STEP="reading the manifest of $ref"
  # The same credentials as the pull: a registry secret for its host, else the token when --image-pull-auth says so.
  forget_credentials
  if ! use_registry_secret "$full" && uses_token "$full"; then
    fetch_token PULL_TOKEN || fail "cannot get an access token for $ref from the metadata server: $FETCH_TOKEN_ERROR"
  fi
  fetch_object "$full" "$tmp/manifest" || pull_failed "$ref" "$PULL_LOG"
  json=$(<"$tmp/manifest")
  for k in 1 2 3; do
    jq -e 'has("manifests")' <<<"$json" >/dev/null 2>&1 || break
    digest=$(select_manifest "$json")
    [[ -n $digest ]] || fail "image $ref has no $PLATFORM variant (--platform)"
    msize=$(jq -r --arg d "$digest" 'first(.manifests[] | select(.digest == $d) | .size)' <<<"$json")
    fetch_object "$repo@$digest" "$tmp/manifest" "$digest" "$msize" || pull_failed "$ref" "$PULL_LOG"
    json=$(<"$tmp/manifest")
  done
  digest=$(jq -r '.config.digest // empty' <<<"$json" 2>/dev/null) || digest=""
  [[ -n $digest ]] || fail "$ref: its manifest is not an image manifest"
  fetch_object "$repo@$digest" "$tmp/config" "$digest" "$(jq -r '.config.size' <<<"$json")" || pull_failed "$ref" "$PULL_LOG"
  forget_credentials
  mapfile -t diffs < <(jq -r '.rootfs.diff_ids[]' "$tmp/config")
  mapfile -t layers < <(jq -r '.layers[] | "\(.digest) \(.size)"' <<<"$json")
  ((${#diffs[@]} == ${#layers[@]})) || fail "$ref: its config lists ${#diffs[@]} layers, its manifest ${#layers[@]}"
  local -A have=()
  while read -r k _; do [[ -z $k ]] || have[$k]=1; done < <(run_ctr snapshots --snapshotter overlayfs ls 2>>"$LOGS/ctr.log" | tail -n +2)
  for k in "${!diffs[@]}"; do
    chain=$(next_chain "$chain" "${diffs[$k]}")
    [[ -n ${have[$chain]:-} ]] || break
    read -r layer lsize <<<"${layers[$k]}"
    [[ $layer =~ ^sha256:[0-9a-f]{64}$ && $lsize =~ ^[0-9]+$ ]] || fail "$ref: layer $((k + 1)) has a malformed descriptor"
    [[ -e $store/${layer#sha256:} ]] || truncate -s "$lsize" "$store/${layer#sha256:}"
    seeded=$((seeded + 1))
    bytes=$((bytes + lsize))
  done
  rm -rf "$tmp"
  log "$ref: $seeded of ${#diffs[@]} layer(s) already on the disk, $(human_bytes "$bytes") not to fetch"
}

# ---- what was unpacked -------------------------------------------------------------------------------

# jq: platform_entry is the digest of the entry of an image index that matches $os, $arch and $variant (PLATFORM).
# shellcheck disable=SC2016 # a jq program, not shell
readonly PLATFORM_ENTRY_JQ='def platform_entry:
  [.manifests[] | select(.platform.os == $os and .platform.architecture == $arch)] as $m
  | ([$m[] | select($variant == "" or (.platform.variant // "") == $variant)] + $m)
  | first | .digest // empty;'

# platform_args: jq's --arg options for PLATFORM_ENTRY_JQ, into PLATFORM_ARGS.
platform_args() {
  local rest=${PLATFORM#*/} variant=""
  [[ $rest != */* ]] || variant=${rest#*/}
  PLATFORM_ARGS=(--arg os "${PLATFORM%%/*}" --arg arch "${rest%%/*}" --arg variant "$variant")
}

# select_manifest JSON: the digest of the entry of an image index that matches PLATFORM.
select_manifest() {
  platform_args
  jq -r "${PLATFORM_ARGS[@]}" "$PLATFORM_ENTRY_JQ platform_entry" <<<"$1"
}

# Labels a snapshot as a GC root and learns where the snapshotter keeps it, in one call: `ctr snapshots
# label` prints the snapshot's labels, the directory among them (upperdir_label). Nothing is mounted or
# viewed, so no temporary snapshot can be collected from under us (the Go tool's retry loop).
locate_snapshot() {
  local chain=$1 labels label dir=""
  labels=$(run_ctr snapshots label "$chain" "containerd.io/gc.root=$BUILD_STARTED" 2>>"$LOGS/ctr.log") \
    || fail "snapshot $chain is missing from containerd"
  IFS=, read -ra labels <<<"$labels"
  for label in "${labels[@]}"; do
    [[ $label != containerd.io/snapshot/overlay.upperdir=* ]] || dir=${label#*=}
  done
  dir=${dir#"$GDIB_MNT"/}
  [[ $dir =~ ^snapshots/[0-9]+/fs$ && -d $GDIB_MNT/$dir ]] \
    || fail "snapshot $chain is not a directory on the data disk ('$dir')"
  SNAPSHOT_DIR[$chain]=$dir
  CHAINS+=("$chain")
}

# Records an image: its manifest for PLATFORM, its layers' chain IDs and snapshot directories. The manifests and the
# config are read from containerd's content store, where the pull left them (blobs/sha256/<hex>, each named by its
# digest), and each is read by one jq.
describe_image() {
  local ref=$1 target=$2 top=$3 digest=$2 chain="" i rows="" file config="" out
  local blobs="$CTRD_DIR/root/io.containerd.content.v1.content/blobs/sha256"
  local -a diffs=() layers=() lines
  platform_args
  for i in 1 2 3; do
    file="$blobs/${digest#sha256:}"
    [[ $digest =~ ^sha256:[0-9a-f]{64}$ && -f $file ]] || fail "cannot read $digest of $ref from containerd"
    # An index: `index <the digest of its PLATFORM entry>`; a manifest: `manifest <config digest>`, then its layers.
    mapfile -t lines < <(jq -r "${PLATFORM_ARGS[@]}" "$PLATFORM_ENTRY_JQ"'
      if has("manifests") then "index \(platform_entry // "")"
      else "manifest \(.config.digest)", (.layers[] | "\(.mediaType)\t\(.size)") end' "$file" 2>>"$LOGS/jq.log")
    out=${lines[0]:-}
    case $out in
      'index '*)
        digest=${out#index }
        [[ -n $digest ]] || fail "$ref has no $PLATFORM image"
        ;;
      'manifest '*)
        config=${out#manifest }
        layers=("${lines[@]:1}")
        break
        ;;
      *) fail "cannot read $digest of $ref from containerd" ;;
    esac
  done
  file="$blobs/${config#sha256:}"
  [[ $config =~ ^sha256:[0-9a-f]{64}$ && -f $file ]] || fail "cannot read the config of $ref"
  mapfile -t diffs < <(jq -r '.rootfs.diff_ids[]' "$file")
  ((${#diffs[@]} == ${#layers[@]})) || fail "$ref: its config lists ${#diffs[@]} layers, its manifest ${#layers[@]}"
  for i in "${!diffs[@]}"; do
    if [[ -z $chain ]]; then
      chain=${diffs[$i]}
    else
      printf '%s %s' "$chain" "${diffs[$i]}" >"$GDIB_WORK/chain.in"
      sha256sum <"$GDIB_WORK/chain.in" >"$GDIB_WORK/chain.out"
      read -r chain _ <"$GDIB_WORK/chain.out"
      chain="sha256:$chain"
    fi
    [[ -n ${SNAPSHOT_DIR[$chain]:-} ]] || locate_snapshot "$chain"
    rows+="${diffs[$i]}"$'\t'"$chain"$'\t'"${SNAPSHOT_DIR[$chain]}"$'\t'"${layers[$i]}"$'\n'
  done
  [[ $chain == "$top" ]] || fail "$ref: the layers of its $PLATFORM manifest ($digest) are not what containerd unpacked"
  printf '%s' "$rows" | jq -cRn --arg ref "$ref" --arg resolved "$(normalize_ref "$ref")" --arg target "$target" \
    --arg manifest "$digest" --arg platform "$PLATFORM" \
    '{reference: $ref, resolved: $resolved, digest: $target, manifestDigest: $manifest, platform: $platform,
      layers: [inputs | split("\t") | {diffID: .[0], chainID: .[1], snapshot: .[2], mediaType: .[3],
        size: (.[4] | tonumber)}]}' >>"$GDIB_WORK/images.jsonl"
}

checksum_snapshots() {
  phase checksumming
  collect_checksums
  local k=0 n=${#CHAINS[@]} chain started
  for chain in "${CHAINS[@]}"; do
    k=$((k + 1))
    [[ -z ${CHECKSUM[$chain]:-} ]] || continue # computed while the images were pulled
    started=$SECONDS
    GDIB_STEP="checksumming ${SNAPSHOT_DIR[$chain]}"
    if [[ -n ${BASE_SUM[$chain]:-} ]]; then
      # Reused from the base image: its checksum is carried over, not recomputed (docs/architecture.md, Disk layout).
      CHECKSUM[$chain]=${BASE_SUM[$chain]}
      log "checksum $k/$n ${SNAPSHOT_DIR[$chain]} ${CHECKSUM[$chain]} (carried over from the base image)"
    else
      CHECKSUM[$chain]=$(snapshot_checksum "$GDIB_MNT/${SNAPSHOT_DIR[$chain]}") \
        || fail "computing the checksum of ${SNAPSHOT_DIR[$chain]} failed"
      log "checksum $k/$n ${SNAPSHOT_DIR[$chain]} ${CHECKSUM[$chain]} ($((SECONDS - started)) s)"
    fi
    progress "$k/$n snapshots"
  done
}

# ---- overlapping the work (docs/vm-script.md, "Overlap") -------------------------------------------------

# How many images are pulled at once: one per CPU (decompressing and extracting a layer takes one), at most 4 (they
# share the data disk and the network) and at most one per GiB of memory. GDIB_PULL_JOBS sets it, for the
# benchmark's comparisons only (docs/architecture.md, Test seams).
choose_pull_jobs() {
  local cpus mem_kib
  cpus=$(nproc 2>/dev/null || echo 1)
  CHECKSUM_JOBS=$cpus # snapshot_checksum's workers, counted once here
  mem_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null || echo 0)
  PULL_JOBS=$((cpus < 4 ? cpus : 4))
  ((mem_kib / 1048576 >= PULL_JOBS)) || PULL_JOBS=$((mem_kib / 1048576))
  ((PULL_JOBS >= 1)) || PULL_JOBS=1
  if [[ -n ${GDIB_PULL_JOBS:-} ]]; then
    [[ $GDIB_PULL_JOBS =~ ^[1-9][0-9]?$ ]] || fail "GDIB_PULL_JOBS must be a number from 1 to 99, got '$GDIB_PULL_JOBS'"
    PULL_JOBS=$GDIB_PULL_JOBS
  fi
}

# child_pids PID: the processes whose parent is PID (from /proc, which every Linux has).
child_pids() {
  local stat line rest ppid
  for stat in /proc/[0-9]*/stat; do
    { read -r line <"$stat"; } 2>/dev/null || continue
    rest=${line##*) }
    ppid=${rest#* }
    ppid=${ppid%% *}
    [[ $ppid != "$1" ]] || { line=${stat#/proc/}; printf '%s\n' "${line%/stat}"; }
  done
}

# Ends a background job and everything it started (ctr, grep; find, xargs, md5sum): each process is stopped before
# its children are listed, so none can start another unseen.
kill_tree() {
  local pid=$1 child
  kill -STOP "$pid" 2>/dev/null || return 0
  for child in $(child_pids "$pid"); do kill_tree "$child"; done
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
}

stop_background_jobs() {
  local i
  for i in "${!PULL_PIDS[@]}"; do
    kill_tree "${PULL_PIDS[$i]}"
    wait "${PULL_PIDS[$i]}" 2>/dev/null || true
    unset "PULL_PIDS[$i]"
  done
  if [[ -n $CHECKSUM_PID ]]; then
    kill_tree "$CHECKSUM_PID"
    wait "$CHECKSUM_PID" 2>/dev/null || true
    CHECKSUM_PID=""
  fi
}

# The checksums of the snapshots, computed by a background worker as each image is recorded, while the next ones
# are still pulling: the worker reads `<chainID> <snapshot dir>` lines from a queue and appends
# `<chainID> <checksum>` lines to checksums.txt; collect_checksums reads them back by chain ID, so the order in
# which they were computed does not matter. GDIB_CHECKSUM_OVERLAP=0 leaves them all to the end, for the benchmark's
# comparisons only (docs/architecture.md, Test seams).
start_checksum_worker() {
  [[ $STORE_CHECKSUMS == true && ${GDIB_CHECKSUM_OVERLAP:-1} != 0 ]] || return 0
  local queue="$GDIB_WORK/checksum.queue"
  rm -f "$queue" "$GDIB_WORK/checksums.txt" "$GDIB_WORK/checksum.failed"
  mkfifo -m 0600 "$queue"
  : >"$GDIB_WORK/checksums.txt"
  (
    set +E
    trap - ERR
    chain="" dir="" sum="" started=0
    while read -r chain dir; do
      started=$SECONDS
      if ! sum=$(snapshot_checksum "$GDIB_MNT/$dir"); then
        printf '%s\n' "$dir" >"$GDIB_WORK/checksum.failed"
        exit 1
      fi
      printf '%s %s\n' "$chain" "$sum" >>"$GDIB_WORK/checksums.txt"
      log "checksum $dir $sum ($((SECONDS - started)) s)"
    done <"$queue"
  ) &
  CHECKSUM_PID=$!
  # Read-write: opening cannot block, and the worker sees the end of the queue once this is closed.
  exec {CHECKSUM_FD}<>"$queue"
}

# The worker's checksums, once every snapshot is queued: the queue is closed and the worker's end awaited.
collect_checksums() {
  [[ -n $CHECKSUM_PID ]] || return 0
  exec {CHECKSUM_FD}>&-
  CHECKSUM_FD=""
  GDIB_STEP="checksumming the last snapshots"
  local last=$SECONDS rc=0 chain sum
  while kill -0 "$CHECKSUM_PID" 2>/dev/null; do
    pause 0.2
    if ((SECONDS - last >= 15)); then
      last=$SECONDS
      progress "$(wc -l <"$GDIB_WORK/checksums.txt")/${#CHAINS[@]} snapshots"
    fi
  done
  wait "$CHECKSUM_PID" || rc=$?
  CHECKSUM_PID=""
  [[ ! -s $GDIB_WORK/checksum.failed ]] || fail "computing the checksum of $(<"$GDIB_WORK/checksum.failed") failed"
  ((rc == 0)) || fail "the checksum worker failed (exit status $rc)"
  while read -r chain sum; do
    CHECKSUM[$chain]=$sum
  done <"$GDIB_WORK/checksums.txt"
  log "$(wc -l <"$GDIB_WORK/checksums.txt") checksums computed while the images were pulled"
}

# Records a pulled image (describe_image) and queues its new snapshots for the checksum worker.
record_image() {
  local before=${#CHAINS[@]} chain
  describe_image "$@"
  start_flush
  [[ -n $CHECKSUM_FD ]] || return 0
  for chain in "${CHAINS[@]:before}"; do
    [[ -z ${BASE_SUM[$chain]:-} ]] || continue # carried over from the base image (checksum_snapshots)
    printf '%s %s\n' "$chain" "${SNAPSHOT_DIR[$chain]}" >&"$CHECKSUM_FD"
  done
}

# One image's pull in the background (pull_image in a subshell): `pull-<i>.result` holds `<target> <chain>` when it
# succeeds, `pull-<i>.error` the one-line reason when it fails.
start_pull() {
  local i=$1
  rm -f "$LOGS/pull-$i.result" "$LOGS/pull-$i.error"
  (
    # shellcheck disable=SC2030 # this subshell's own copy, read by its EXIT trap
    PULL_JOB=$i
    [[ -z $CHECKSUM_FD ]] || exec {CHECKSUM_FD}>&-
    trap 'pull_job_exit $?' EXIT
    pull_image "$i" "${#IMAGES[@]}" "${IMAGES[$((i - 1))]}"
    printf '%s %s\n' "$PULLED_TARGET" "$PULLED_CHAIN" >"$LOGS/pull-$i.result"
  ) &
  PULL_PIDS[$i]=$!
}

# The EXIT trap of a background pull: its failure, one line, for pull_all to report.
pull_job_exit() {
  local rc=$1 reason=$GDIB_ERROR
  ((rc != 0)) || return 0
  if [[ -z $reason ]]; then
    reason="$GDIB_STEP failed (exit status $rc)"
    [[ -z $GDIB_FAILED_COMMAND ]] || reason+=": $GDIB_FAILED_COMMAND"
  fi
  # shellcheck disable=SC2031 # runs in the subshell that set it
  one_line "$reason" >"$LOGS/pull-$PULL_JOB.error"
}

# Pulls every image, up to PULL_JOBS at once, each reporting its own progress lines. Images are recorded in list
# order whatever order their pulls end in (image i once it and every image before it are pulled), so
# snapshots.metadata, images.jsonl and gdib.json do not depend on timing. The first pull that fails stops the
# others and fails the build with its reason, which names its image.
pull_all() {
  local n=${#IMAGES[@]} i next=1 recorded=0 running target chain alone=1
  [[ ${GDIB_FIRST_PULL_ALONE:-1} != 0 ]] || alone=0
  if ((PULL_JOBS == 1 || n == 1)); then
    for i in $(seq 1 "$n"); do
      pull_image "$i" "$n" "${IMAGES[$((i - 1))]}"
      record_image "${IMAGES[$((i - 1))]}" "$PULLED_TARGET" "$PULLED_CHAIN"
    done
    return 0
  fi
  log "pulling $n images, up to $PULL_JOBS at once"
  GDIB_STATUS_LOCK="$LOGS/status.lock"
  while ((recorded < n)); do
    running=0
    for i in "${!PULL_PIDS[@]}"; do
      if [[ -s $LOGS/pull-$i.error ]]; then
        local reason
        reason=$(<"$LOGS/pull-$i.error")
        stop_background_jobs
        fail "$reason"
      fi
      ! kill -0 "${PULL_PIDS[$i]}" 2>/dev/null || running=$((running + 1))
    done
    # The first image is pulled alone: containerd (1.6) unpacks a layer that two pulls need at the same time twice
    # (each its own snapshot, one thrown away), and the images of a build mostly share their base with the first.
    # GDIB_FIRST_PULL_ALONE=0 starts the next ones with it, for the benchmark's comparisons only.
    if ((next <= n && running < PULL_JOBS && (next != 2 || recorded >= 1 || alone == 0))); then
      start_pull "$next"
      next=$((next + 1))
      continue
    fi
    i=$((recorded + 1))
    if [[ -n ${PULL_PIDS[$i]:-} ]] && ! kill -0 "${PULL_PIDS[$i]}" 2>/dev/null; then
      wait "${PULL_PIDS[$i]}" 2>/dev/null || true
      [[ ! -s $LOGS/pull-$i.error ]] || continue # reported at the top of the loop
      unset "PULL_PIDS[$i]"
      read -r target chain <"$LOGS/pull-$i.result" 2>/dev/null \
        || { stop_background_jobs; fail "pulling ${IMAGES[$((i - 1))]} ended without a result"; }
      GDIB_STEP="recording ${IMAGES[$((i - 1))]}"
      record_image "${IMAGES[$((i - 1))]}" "$target" "$chain"
      recorded=$i
      continue
    fi
    GDIB_STEP="pulling ${IMAGES[*]:recorded:next-recorded-1}"
    pause 0.2
  done
  GDIB_STATUS_LOCK=""
}

write_metadata() {
  GDIB_STEP="writing the metadata files"
  local chain line out="$GDIB_MNT/snapshots.metadata"
  : >"$out"
  for chain in "${CHAINS[@]}"; do
    line="$chain ${SNAPSHOT_DIR[$chain]}"
    [[ $STORE_CHECKSUMS != true ]] || line+=" ${CHECKSUM[$chain]}"
    printf '%s\n' "$line" >>"$out"
  done
  run_ctr images ls >"$GDIB_MNT/images.metadata" 2>>"$LOGS/ctr.log"
  # Bytes each snapshot takes on the disk, from the snapshotter (`KEY SIZE INODES` lines, read by the jq below).
  run_ctr snapshots usage -b >"$GDIB_WORK/usage.txt" 2>>"$LOGS/ctr.log"
  jq -s --arg version "$GDIB_TOOL_VERSION" --arg run "$RUN_ID" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg platform "$PLATFORM" --argjson checksums "$STORE_CHECKSUMS" --rawfile usage "$GDIB_WORK/usage.txt" \
    '([$usage | split("\n")[] | [splits(" +|\t")] | select(.[0] | startswith("sha256:")) | {(.[0]): (.[1] | tonumber)}]
        | add // {}) as $sizes
    | {tool: "gke-disk-image-builder", version: $version, runId: $run, builtAt: $at, platform: $platform,
      checksums: $checksums,
      images: [.[] | .layers |= map(. + {unpackedSize: ($sizes[.chainID] // null)})]}' \
    "$GDIB_WORK/images.jsonl" >"$GDIB_MNT/gdib.json"
  log "snapshots.metadata:"
  sed 's/^/gdib:   /' "$out"
}

cleanup() {
  stop_background_jobs
  stop_containerd
  # A pull cut short (SIGTERM): without its containerd, ctr gives up at once.
  local i
  for ((i = 1; i <= 50; i++)); do
    if [[ -z $PULL_PID ]] || ! kill -0 "$PULL_PID" 2>/dev/null; then break; fi
    pause 0.1
  done
  unmount_data_disk || log "could not unmount $GDIB_MNT"
}

main() {
  start_reporting
  require_path_var GDIB_WORK_DIR "$GDIB_WORK"
  require_path_var GDIB_MOUNT_DIR "$GDIB_MNT"
  mkdir -p "$LOGS"
  rm -f "$GDIB_WORK/images.jsonl"
  pause_init

  phase installing
  read_parameters
  install_missing curl containerd ctr jq mkfs.ext4 perl md5sum find xargs mountpoint findmnt timeout flock
  if [[ $DATA_DISK == from-image ]]; then
    install_missing resize2fs dumpe2fs e2fsck blockdev sha256sum truncate
  fi

  if [[ $DATA_DISK == from-image ]]; then
    phase mounting
    mount_base_disk
  else
    phase formatting
    format_and_mount
  fi
  start_containerd
  configure_hosts
  [[ $DATA_DISK != from-image ]] || restore_base_snapshots

  choose_pull_jobs
  start_checksum_worker
  pull_all
  [[ $DATA_DISK != from-image ]] || remove_unused_base
  progress "${#IMAGES[@]}/${#IMAGES[@]} images, ${#CHAINS[@]} snapshots, $(human_bytes "$(disk_used "$GDIB_MNT")") on the data disk"

  [[ $STORE_CHECKSUMS != true ]] || checksum_snapshots
  write_metadata

  GDIB_STEP="unmounting the data disk"
  stop_containerd
  # The snapshotter's own database is containerd's business, not GKE's.
  rm -f "$GDIB_MNT/metadata.db"
  log "data disk: ${#IMAGES[@]} image(s), ${#CHAINS[@]} snapshot(s), $(human_bytes "$(disk_used "$GDIB_MNT")") of $(human_bytes "$(disk_size "$GDIB_MNT")") used"
  unmount_data_disk || fail "cannot unmount the data disk $GDIB_MNT: $(tail -n 1 "$LOGS/umount.log")"
  # The content store (the compressed layers) is of no further use: give the boot disk its space back.
  # Only once nothing is mounted under it, so rm cannot reach into a disk.
  local mounts
  mounts=$(findmnt -rn -o TARGET)
  [[ $'\n'$mounts == *$'\n'"$CTRD_DIR/"* ]] || rm -rf "$CTRD_DIR"
  GDIB_SUCCEEDED=true
}

main "$@"
