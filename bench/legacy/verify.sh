#!/bin/bash
# gke-disk-image-builder: the verify script, run as root by the temporary VM as its startup script.
#
# It mounts the data disk (made from the image under test) read-only, checks that every snapshot that
# snapshots.metadata lists exists and recomputes its checksum (the Go tool's formula, see common.sh),
# and ends `failed` on any mismatch, missing directory, missing checksum or malformed line. It writes
# nothing to the disk and unmounts it at the end.
#
# Phases: installing → verifying → done.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=common.sh
source "${BASH_SOURCE[0]%/*}/common.sh" # @inline common.sh

MOUNTED=false
DEVICE_NAME=""

read_parameters() {
  local mode
  md_get mode gdib-mode verify
  [[ $mode == verify ]] || fail "this is the verify script but metadata gdib-mode is '$mode'"
  md_get DEVICE_NAME gdib-device-name gdib-data
  [[ $DEVICE_NAME =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || fail "invalid gdib-device-name '$DEVICE_NAME'"
}

mount_read_only() {
  resolve_device "$DEVICE_NAME"
  ! mountpoint -q "$GDIB_MNT" || fail "$GDIB_MNT is already a mount point"
  mkdir -p "$GDIB_MNT"
  # noload: no journal replay, so not one block of the disk is written.
  mount -o ro,noload "$GDIB_DEV" "$GDIB_MNT" || fail "mounting $GDIB_DEV read-only on $GDIB_MNT failed"
  MOUNTED=true
}

cleanup() {
  [[ $MOUNTED == true ]] || return 0
  umount "$GDIB_MNT" && MOUNTED=false
}

# Reads snapshots.metadata into CHAINS/DIRS/SUMS, rejecting anything that is not what a build writes.
read_snapshots_metadata() {
  local file="$GDIB_MNT/snapshots.metadata" line chain dir sum extra n=0 unsummed=0
  [[ -f $file ]] || fail "the disk has no snapshots.metadata: it is not a disk image built by gke-disk-image-builder"
  CHAINS=() DIRS=() SUMS=()
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    [[ -n $line ]] || continue
    chain="" dir="" sum="" extra=""
    read -r chain dir sum extra <<<"$line"
    [[ $chain =~ ^sha256:[0-9a-f]{64}$ && $dir =~ ^snapshots/[0-9]+/fs$ && -z $extra ]] \
      || fail "snapshots.metadata line $n is malformed: $(one_line "${line:0:120}")"
    if [[ -z $sum ]]; then
      unsummed=$((unsummed + 1))
    elif ! [[ $sum =~ ^[0-9a-f]{32}$ ]]; then
      fail "snapshots.metadata line $n has a malformed checksum"
    fi
    CHAINS+=("$chain") DIRS+=("$dir") SUMS+=("$sum")
  done <"$file"
  ((${#CHAINS[@]} > 0)) || fail "snapshots.metadata lists no snapshot"
  ((unsummed == 0)) || fail "snapshots.metadata has no checksum for $unsummed of ${#CHAINS[@]} snapshots: build the image with --store-snapshot-checksum=true to verify it"
}

verify_snapshots() {
  local k n=${#CHAINS[@]} actual started bad=() missing=()
  for k in "${!CHAINS[@]}"; do
    GDIB_STEP="verifying ${DIRS[$k]}"
    if [[ ! -d $GDIB_MNT/${DIRS[$k]} ]]; then
      log "MISSING ${DIRS[$k]} (${CHAINS[$k]})"
      missing+=("${DIRS[$k]}")
      continue
    fi
    started=$SECONDS
    actual=$(snapshot_checksum "$GDIB_MNT/${DIRS[$k]}") || fail "reading ${DIRS[$k]} failed"
    if [[ $actual == "${SUMS[$k]}" ]]; then
      log "ok $((k + 1))/$n ${DIRS[$k]} $actual ($((SECONDS - started)) s)"
    else
      log "MISMATCH $((k + 1))/$n ${DIRS[$k]} (${CHAINS[$k]}): expected ${SUMS[$k]}, got $actual"
      bad+=("${DIRS[$k]}")
    fi
    progress "$((k + 1))/$n snapshots"
  done
  local problems=()
  ((${#bad[@]} == 0)) || problems+=("${#bad[@]} of $n snapshots do not match their checksum (${bad[*]:0:5}$( ((${#bad[@]} <= 5)) || echo ' ...'))")
  ((${#missing[@]} == 0)) || problems+=("${#missing[@]} of $n snapshot directories are missing (${missing[*]:0:5}$( ((${#missing[@]} <= 5)) || echo ' ...'))")
  if ((${#problems[@]} > 0)); then
    local message
    message=$(printf '%s; ' "${problems[@]}")
    fail "verification failed: ${message%; }"
  fi
  log "all $n snapshots match their checksums"
}

main() {
  start_reporting
  require_path_var GDIB_WORK_DIR "$GDIB_WORK"
  require_path_var GDIB_MOUNT_DIR "$GDIB_MNT"
  mkdir -p "$GDIB_WORK"

  phase installing
  read_parameters
  install_missing curl perl md5sum find xargs mountpoint timeout

  phase verifying
  mount_read_only
  read_snapshots_metadata
  verify_snapshots

  GDIB_STEP="unmounting the data disk"
  umount "$GDIB_MNT" || fail "cannot unmount $GDIB_MNT"
  MOUNTED=false
  GDIB_SUCCEEDED=true
}

main "$@"
