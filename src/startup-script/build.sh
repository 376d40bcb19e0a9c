#!/bin/bash
# gke-disk-image-builder: the build script, run as root by the temporary VM as its startup script.
#
# It formats the data disk (ext4, whole disk), runs its own containerd whose overlayfs snapshotter keeps
# its snapshots on that disk, pulls every image listed in metadata (containerd unpacks each layer once,
# straight into snapshots/<N>/fs on the disk: whiteouts, opaque markers, xattrs, owners and hard links
# exactly as GKE's containerd would have them), then writes snapshots.metadata, images.metadata and
# gdib.json at the disk's root (docs/architecture.md, Disk layout), unmounts it and reports the outcome (docs/architecture.md, VM status).
#
# Phases: installing → formatting → pulling/unpacking (per image) → checksumming → done.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=common.sh
source "${BASH_SOURCE[0]%/*}/common.sh" # @inline common.sh

readonly NS=k8s.io
readonly TOKEN_USER=oauth2accesstoken
readonly CTRD_DIR="$GDIB_WORK/containerd"
readonly LOGS="$GDIB_WORK/logs"

CTRD_PID=""
PULL_PID=""
PULL_JOBS=1       # images pulled at once (choose_pull_jobs)
PULL_JOB=0        # in a background pull: its image's index
declare -A PULL_PIDS=()  # image index → its background pull, while it may run
CHECKSUM_PID=""   # the background checksum worker (start_checksum_worker)
CHECKSUM_FD=""    # its queue, open for writing
MOUNTED=false
HOSTS_DIR=""
AUTH=""
PLATFORM=""
STORE_CHECKSUMS=""
RUN_ID=""
DEVICE_NAME=""
BUILD_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGES=()
declare -A SNAPSHOT_DIR=()  # chainID → snapshots/<N>/fs
declare -A CHECKSUM=()      # chainID → checksum
CHAINS=()                   # distinct chainIDs, bottom layer first, in image order

run_ctr() { ctr --address "$CTRD_DIR/containerd.sock" --namespace "$NS" "$@"; }

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
  md_get PLATFORM gdib-platform linux/amd64
  [[ $PLATFORM =~ ^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_.]+)?$ ]] || fail "invalid gdib-platform '$PLATFORM'"

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
  log "run ${RUN_ID}: ${#IMAGES[@]} image(s), platform $PLATFORM, pull auth $AUTH, checksums $STORE_CHECKSUMS"
}

# ---- data disk ------------------------------------------------------------------------------------

format_and_mount() {
  resolve_device "$DEVICE_NAME"
  local real
  real=$(readlink -f "$GDIB_DEV")
  ! findmnt -rn -S "$real" >/dev/null || fail "data disk $GDIB_DEV is already mounted"
  ! mountpoint -q "$GDIB_MNT" || fail "$GDIB_MNT is already a mount point"
  log "formatting $GDIB_DEV ($(human_bytes "$(blockdev --getsize64 "$real")")) as ext4"
  # The inode tables are not written up front (lazy_itable_init=1: ~1.6 % of the disk, 3.3 GB of a 200 GB one),
  # and noinit_itable keeps the kernel from zeroing them in the background while the build writes: the block
  # groups' unused-inode counts say which inodes were never used, so neither the kernel nor e2fsck reads those
  # (docs/architecture.md, Disk layout). GDIB_MKFS_LAZY_ITABLE=0 writes them as before, for the benchmark's
  # comparisons only (docs/architecture.md, Test seams).
  local lazy=1 options=discard,defaults,noinit_itable
  [[ ${GDIB_MKFS_LAZY_ITABLE:-1} != 0 ]] || { lazy=0; options=discard,defaults; }
  mkfs.ext4 -q -F -m 0 -E "lazy_itable_init=$lazy,lazy_journal_init=0,discard" "$GDIB_DEV" >"$LOGS/mkfs.log" 2>&1 \
    || fail "formatting $GDIB_DEV failed: $(tail -n 1 "$LOGS/mkfs.log")"
  mkdir -p "$GDIB_MNT"
  mount -o "$options" "$GDIB_DEV" "$GDIB_MNT" || fail "mounting $GDIB_DEV on $GDIB_MNT failed"
  MOUNTED=true
}

unmount_data_disk() {
  [[ $MOUNTED == true ]] || return 0
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
EOF
  # TMPDIR: containerd's scratch files stay under the work dir too. CONTAINERD_DISABLE_PIGZ: containerd
  # decompresses layers itself even where unpigz happens to be installed — measured no faster at more CPU
  # (docs/benchmarks.md §5), so every machine decompresses the same way; the benchmark sets it to 0 to compare.
  env -u XDG_RUNTIME_DIR TMPDIR="$CTRD_DIR/tmp" CONTAINERD_DISABLE_PIGZ="${CONTAINERD_DISABLE_PIGZ:-1}" \
    containerd --config "$CTRD_DIR/config.toml" \
    >"$LOGS/containerd.log" 2>&1 &
  CTRD_PID=$!
  local i
  for i in $(seq 1 300); do
    run_ctr version >/dev/null 2>&1 && return 0
    kill -0 "$CTRD_PID" 2>/dev/null || break
    sleep 0.1
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
  for i in $(seq 1 100); do
    kill -0 "$CTRD_PID" 2>/dev/null || break
    sleep 0.1
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

# Drops URL query strings (signed URLs) and the current token from a line before it is shown.
redact() {
  local s=$1
  [[ -z ${PULL_TOKEN:-} ]] || s=${s//"$PULL_TOKEN"/[redacted]}
  printf '%s' "$s" | sed -E 's/\?[^ "]*/?[redacted]/g'
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

pull_image() {
  local i=$1 n=$2 ref=$3 full log rcfile pid rc current=pulling started=$SECONDS last=$SECONDS
  full=$(normalize_ref "$ref")
  log="$LOGS/pull-$i.log"
  rcfile="$LOGS/pull-$i.rc"
  rm -f "$rcfile"
  local args=(--hosts-dir "$HOSTS_DIR" --platform "$PLATFORM" --snapshotter overlayfs --print-chainid)
  GDIB_STEP="pulling $ref"
  report_status phase pulling
  progress "image $i/$n $ref: pulling"
  PULL_TOKEN=""
  if uses_token "$full"; then
    fetch_token PULL_TOKEN || fail "cannot get an access token for $ref from the metadata server: $FETCH_TOKEN_ERROR"
    args+=(--user "$TOKEN_USER:$PULL_TOKEN")
    log "pulling $i/$n $ref with a fresh service-account token"
  else
    log "pulling $i/$n $ref"
  fi
  # ctr redraws a progress table every 100 ms: keep it off the serial console and out of the log.
  (
    set +e
    run_ctr images pull "${args[@]}" -- "$full" 2>&1 | grep -av --line-buffered -E 'elapsed: [0-9.]+ ?s|\|.*\|' >"$log"
    echo "${PIPESTATUS[0]}" >"$rcfile"
  ) &
  pid=$!
  PULL_PID=$pid
  args=()
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.3
    if [[ $current == pulling ]] && grep -qa '^unpacking ' "$log"; then
      current=unpacking
      GDIB_STEP="unpacking $ref"
      report_status phase unpacking
    fi
    if ((SECONDS - last >= 15)); then
      last=$SECONDS
      local downloaded
      downloaded=$(du -sb "$CTRD_DIR/root/io.containerd.content.v1.content" 2>/dev/null | cut -f1 || echo 0)
      progress "image $i/$n $ref: $current for $((SECONDS - started)) s, $(human_bytes "${downloaded:-0}") downloaded in all, $(human_bytes "$(disk_used "$GDIB_MNT")") on the data disk"
    fi
  done
  wait "$pid" || true
  PULL_PID=""
  if [[ $current == pulling ]] && grep -qa '^unpacking ' "$log"; then
    GDIB_STEP="unpacking $ref" # too quick for the loop to see: still say it happened
    report_status phase unpacking
  fi
  rc=$(cat "$rcfile" 2>/dev/null || echo 1)
  ((rc == 0)) || pull_failed "$ref" "$log"
  PULL_TOKEN=""
  PULLED_TARGET=$(sed -nE 's/^unpacking [^ ]+ (sha256:[0-9a-f]{64}).*/\1/p' "$log" | tail -n 1)
  PULLED_CHAIN=$(sed -nE 's/^image chain ID: (sha256:[0-9a-f]{64}).*/\1/p' "$log" | tail -n 1)
  [[ -n $PULLED_TARGET && -n $PULLED_CHAIN ]] || fail "ctr pulled $ref but did not report what it unpacked"
  log "pulled $i/$n $ref in $((SECONDS - started)) s ($PULLED_TARGET)"
}

# ---- what was unpacked -------------------------------------------------------------------------------

# select_manifest JSON: the digest of the entry of an image index that matches PLATFORM.
select_manifest() {
  local os=${PLATFORM%%/*} rest=${PLATFORM#*/} arch variant=""
  arch=${rest%%/*}
  [[ $rest != */* ]] || variant=${rest#*/}
  jq -r --arg os "$os" --arg arch "$arch" --arg variant "$variant" '
    [.manifests[] | select(.platform.os == $os and .platform.architecture == $arch)] as $m
    | ([$m[] | select($variant == "" or (.platform.variant // "") == $variant)] + $m)
    | first | .digest // empty' <<<"$1"
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

# Records an image: its manifest for PLATFORM, its layers' chain IDs and snapshot directories.
describe_image() {
  local ref=$1 target=$2 top=$3 digest=$2 json config chain="" i rows
  local -a diffs layers
  for i in 1 2 3; do
    json=$(run_ctr content get "$digest") || fail "cannot read $digest of $ref from containerd"
    jq -e 'has("manifests")' <<<"$json" >/dev/null || break
    digest=$(select_manifest "$json")
    [[ -n $digest ]] || fail "$ref has no $PLATFORM image"
  done
  config=$(run_ctr content get "$(jq -r '.config.digest' <<<"$json")") || fail "cannot read the config of $ref"
  mapfile -t diffs < <(jq -r '.rootfs.diff_ids[]' <<<"$config")
  mapfile -t layers < <(jq -r '.layers[] | "\(.mediaType)\t\(.size)"' <<<"$json")
  ((${#diffs[@]} == ${#layers[@]})) || fail "$ref: its config lists ${#diffs[@]} layers, its manifest ${#layers[@]}"
  rows=""
  for i in "${!diffs[@]}"; do
    if [[ -z $chain ]]; then
      chain=${diffs[$i]}
    else
      chain="sha256:$(printf '%s %s' "$chain" "${diffs[$i]}" | sha256sum | cut -d' ' -f1)"
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
    CHECKSUM[$chain]=$(snapshot_checksum "$GDIB_MNT/${SNAPSHOT_DIR[$chain]}") \
      || fail "computing the checksum of ${SNAPSHOT_DIR[$chain]} failed"
    log "checksum $k/$n ${SNAPSHOT_DIR[$chain]} ${CHECKSUM[$chain]} ($((SECONDS - started)) s)"
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
    sleep 0.2
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
  [[ -n $CHECKSUM_FD ]] || return 0
  for chain in "${CHAINS[@]:before}"; do
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
  local n=${#IMAGES[@]} i next=1 recorded=0 running target chain
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
    if ((next <= n && running < PULL_JOBS)); then
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
    sleep 0.2
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
  # Bytes each snapshot takes on the disk, from the snapshotter (`KEY SIZE INODES` lines).
  run_ctr snapshots usage -b 2>>"$LOGS/ctr.log" | awk '$1 ~ /^sha256:/ { print $1 "\t" $2 }' >"$GDIB_WORK/usage.tsv"
  jq -Rn '[inputs | split("\t") | {(.[0]): (.[1] | tonumber)}] | add // {}' <"$GDIB_WORK/usage.tsv" >"$GDIB_WORK/usage.json"
  jq -s --arg version "$GDIB_TOOL_VERSION" --arg run "$RUN_ID" --arg at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg platform "$PLATFORM" --argjson checksums "$STORE_CHECKSUMS" --slurpfile sizes "$GDIB_WORK/usage.json" \
    '{tool: "gke-disk-image-builder", version: $version, runId: $run, builtAt: $at, platform: $platform,
      checksums: $checksums,
      images: [.[] | .layers |= map(. + {unpackedSize: ($sizes[0][.chainID] // null)})]}' \
    "$GDIB_WORK/images.jsonl" >"$GDIB_MNT/gdib.json"
  log "snapshots.metadata:"
  sed 's/^/gdib:   /' "$out"
}

cleanup() {
  stop_background_jobs
  stop_containerd
  # A pull cut short (SIGTERM): without its containerd, ctr gives up at once.
  local i
  for i in $(seq 1 50); do
    if [[ -z $PULL_PID ]] || ! kill -0 "$PULL_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  unmount_data_disk || log "could not unmount $GDIB_MNT"
}

main() {
  start_reporting
  require_path_var GDIB_WORK_DIR "$GDIB_WORK"
  require_path_var GDIB_MOUNT_DIR "$GDIB_MNT"
  mkdir -p "$LOGS"
  rm -f "$GDIB_WORK/images.jsonl"

  phase installing
  read_parameters
  install_missing curl containerd ctr jq mkfs.ext4 perl md5sum find xargs mountpoint findmnt timeout flock

  phase formatting
  format_and_mount
  start_containerd
  configure_hosts

  choose_pull_jobs
  start_checksum_worker
  pull_all
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
