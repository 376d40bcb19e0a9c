# Shared by build.sh and verify.sh. render.ts inlines this file where they source it, so the
# startup-script metadata is one self-contained script; from the source tree it is sourced.
#
# Everything read from the metadata server is data: it is passed as arguments and never evaluated.
# shellcheck shell=bash

[[ :${PATH:-}: == *:/usr/sbin:* && :${PATH:-}: == *:/sbin:* ]] \
  || export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
export LC_ALL=C
umask 022

# The seams of docs/architecture.md, Test seams: outside GCE these point the script at a fake metadata server, a loop device, ...
readonly GDIB_MD_HOST="${GCE_METADATA_HOST:-metadata.google.internal}"
readonly GDIB_WORK="${GDIB_WORK_DIR:-/var/lib/gdib}"
# shellcheck disable=SC2034 # used by the including scripts
readonly GDIB_MNT="${GDIB_MOUNT_DIR:-/mnt/disks/gdib}"
# shellcheck disable=SC2034 # used by build.sh; render.ts puts the package version here
readonly GDIB_TOOL_VERSION="__GDIB_VERSION__"

GDIB_STEP="starting"  # what the script is doing: names the step in a failure message
GDIB_ERROR=""         # the one-line reason reported when the script fails
GDIB_SUCCEEDED=false  # set by the mode script once everything, unmount included, is done
GDIB_FAILED_COMMAND=""
GDIB_CONSOLE=false    # also write the status lines (docs/architecture.md, VM status) to /dev/console (see console_init)
GDIB_GUEST_ATTRIBUTES_WARNED=false
GDIB_STATUS_LOCK=""   # a lock file while several processes report (build.sh's parallel pulls), else empty
GDIB_STATUS_NONCE=""  # metadata gdib-status-nonce: ends every serial status line (start_reporting reads it)

log() { printf 'gdib: %s\n' "$*"; }

# One line, no control characters, bounded: fit for a guest attribute and a serial line.
one_line() {
  local one_line_out
  one_line_to one_line_out "$1"
  printf '%s' "$one_line_out"
}

# one_line_to VAR TEXT: one_line's result in VAR, without a subshell.
one_line_to() {
  local -n one_line_dest=$1
  local one_line_s=${2//$'\n'/ }
  one_line_s=${one_line_s//$'\r'/ }
  one_line_s=${one_line_s//$'\e'/}
  ((${#one_line_s} <= 480)) || one_line_s="${one_line_s:0:477}..."
  # shellcheck disable=SC2034 # a nameref to the caller's variable
  one_line_dest=$one_line_s
}

# The serial console is what the CLI falls back to. On a VM the startup script's stdout already goes
# there (through the guest agent); /dev/console is written too when it is a different device, as a
# second path that does not depend on the agent. A console that blocks cannot stall the build.
console_init() {
  if [[ -c /dev/console && -w /dev/console ]] && ! [[ /dev/console -ef /proc/self/fd/1 ]] \
    && { : >/dev/console; } 2>/dev/null; then
    GDIB_CONSOLE=true
  fi
}

console_write() {
  [[ $GDIB_CONSOLE == true ]] || return 0
  timeout 2 tee -a /dev/console <<<"$1" >/dev/null 2>&1 || true
}

md_url() { printf 'http://%s/computeMetadata/v1/instance/%s' "$GDIB_MD_HOST" "$1"; }

# Writes guest attribute gdib/<key>. Best effort: the serial line is the fallback, so a failure
# is mentioned once and the next facts are still tried. The request goes through bash's own /dev/tcp (a status is
# written a dozen times or more per build, and a curl costs tens of milliseconds of CPU); curl, which retries, when
# that does not answer 200.
put_guest_attribute() {
  local code="" url fd host=${GDIB_MD_HOST%:*} port=80 status
  [[ $GDIB_MD_HOST != *:* ]] || port=${GDIB_MD_HOST##*:}
  printf -v url 'http://%s/computeMetadata/v1/instance/guest-attributes/gdib/%s' "$GDIB_MD_HOST" "$1"
  if [[ $port =~ ^[0-9]+$ ]] && { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    # LC_ALL=C: ${#2} counts bytes.
    if { printf 'PUT %s HTTP/1.1\r\nHost: %s\r\nMetadata-Flavor: Google\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
      "${url#http://"$GDIB_MD_HOST"}" "$GDIB_MD_HOST" "${#2}" "$2" >&"$fd"; } 2>/dev/null \
      && read -r -t 5 -u "$fd" _ status _ 2>/dev/null; then
      code=${status%$'
'}
    fi
    exec {fd}<&-
  fi
  if [[ $code != 200 ]]; then
    # The value on stdin, not in curl's arguments, which any process on the VM can read.
    code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --retry 2 --retry-connrefused \
      -X PUT -H 'Metadata-Flavor: Google' --data-binary @- "$url" 2>/dev/null < <(printf "%s" "$2")) || true
  fi
  if [[ $code != 200 && $GDIB_GUEST_ATTRIBUTES_WARNED == false ]]; then
    GDIB_GUEST_ATTRIBUTES_WARNED=true
    log "cannot write guest attributes (HTTP ${code:-000}); the serial console carries the status"
  fi
}

# Reports the VM status (docs/architecture.md, VM status): `gdib: <key>=<value>` on the serial console and guest
# attribute gdib/<key>, for key state, phase, progress or error.
report_status() {
  local value line
  one_line_to value "$2"
  line="gdib: $1=$value${GDIB_STATUS_NONCE:+ nonce=$GDIB_STATUS_NONCE}"
  # The guest attribute first: the CLI may act on the serial line at once (and delete this VM). While several
  # processes report, a lock keeps each attribute and its line together, so both sources show the same order.
  {
    [[ -z $GDIB_STATUS_LOCK ]] || flock -x 9 || true
    put_guest_attribute "$1" "$value"
    printf '%s\n' "$line"
    console_write "$line"
  } 9>>"${GDIB_STATUS_LOCK:-/dev/null}"
}

phase() { GDIB_STEP=$1; report_status phase "$1"; }
progress() { report_status progress "$1"; }

# Fails the script with a reason; the EXIT trap reports it.
fail() {
  GDIB_ERROR=$(one_line "$*")
  exit 1
}

# md_get VAR KEY [DEFAULT]: reads instance attribute KEY into VAR; DEFAULT when the key is absent.
# (A variable, not stdout: a failure inside $(...) could not report its reason.)
md_get() {
  local -n md_get_dest=$1
  # The answer goes to a file of the work dir, emptied after each read (a temporary file before the work dir exists).
  local key=$2 out="$GDIB_WORK/.metadata-value" own=false url code
  [[ -d $GDIB_WORK ]] || { out=$(mktemp) && own=true; }
  printf -v url 'http://%s/computeMetadata/v1/instance/attributes/%s' "$GDIB_MD_HOST" "$key"
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 --retry 5 --retry-connrefused \
    -H 'Metadata-Flavor: Google' "$url") || code=000
  # shellcheck disable=SC2034 # md_get_dest is a nameref to the caller's variable
  if [[ $code == 200 ]]; then
    md_get_dest=$(<"$out")
  elif [[ $code == 404 && $# -ge 3 ]]; then
    md_get_dest=$3
  else
    md_get_done "$out" "$own"
    fail "cannot read metadata attribute $key from $GDIB_MD_HOST (HTTP $code)"
  fi
  md_get_done "$out" "$own"
}

md_get_done() { if [[ $2 == true ]]; then rm -f "$1"; else : >"$1"; fi; }

require_path_var() {
  # These paths end up in containerd's TOML config and in mount options: keep them plain.
  [[ $2 =~ ^/[A-Za-z0-9._/@+-]*$ && $2 != */ ]] \
    || fail "$1 must be a plain absolute path (letters, digits and ._/@+-), got: $2"
}

# The commands a build runs, on the VM or (build --local) on this machine, and the Debian package of each.
# install_missing installs from it; src/local/preconditions.ts reads this table (one entry a line) to check a
# local machine and name the packages, so it is written here only.
declare -rA GDIB_PACKAGE_OF=(
  [bash]=bash
  [containerd]=containerd
  [ctr]=containerd
  [mkfs.ext4]=e2fsprogs
  [resize2fs]=e2fsprogs
  [dumpe2fs]=e2fsprogs
  [e2fsck]=e2fsprogs
  [losetup]=mount
  [mount]=mount
  [umount]=mount
  [findmnt]=util-linux
  [flock]=util-linux
  [mountpoint]=util-linux
  [blockdev]=util-linux
  [jq]=jq
  [curl]=curl
  [perl]=perl-base
  [md5sum]=coreutils
  [sha256sum]=coreutils
  [timeout]=coreutils
  [truncate]=coreutils
  [find]=findutils
  [xargs]=findutils
  [tar]=tar
  [gzip]=gzip
)

# Installs the packages of the named commands that are missing.
install_missing() {
  local cmd missing=()
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${GDIB_PACKAGE_OF[$cmd]:-$cmd}")
  done
  ((${#missing[@]} > 0)) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]}"
  local apt_log="$GDIB_WORK/logs/apt.log" policy_rc=/usr/sbin/policy-rc.d created_policy=false
  # Installing containerd would start the host's own containerd service; this script runs its own.
  if [[ ! -e $policy_rc ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod 0755 "$policy_rc" && created_policy=true
  fi
  local ok=true
  if ! { DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update \
    && DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install \
      --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    ok=false
  fi
  [[ $created_policy == false ]] || rm -f "$policy_rc"
  if [[ $ok == false ]]; then
    tail -n 15 "$apt_log" | sed 's/^/gdib: apt: /'
    fail "installing ${missing[*]} with apt-get failed"
  fi
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || fail "$cmd is still missing after installing ${missing[*]}"
  done
}

# The data disk: GDIB_DEVICE, else the disk GCE attached with device name $1. Sets GDIB_DEV.
resolve_device() {
  GDIB_DEV="${GDIB_DEVICE:-/dev/disk/by-id/google-$1}"
  local waited=0
  until [[ -b $GDIB_DEV ]]; do
    ((waited < 60)) || fail "data disk $GDIB_DEV not found (is a disk attached with device name $1?)"
    sleep 1
    waited=$((waited + 1))
  done
}

# Checksum of one snapshot directory: md5 of the LC_ALL=C-sorted md5 digests of every regular file
# under it. Byte for byte the Go tool's
#   find DIR -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1
# as run on its Debian 11 VMs (coreutils 8.32): a digest is written `\<hex>` when the file name holds
# a backslash or a newline (md5sum's escape marker, which `cut` keeps). md5sum -z turns escaping off,
# so the marker is added here with that rule, whatever coreutils version runs this (9.x also escapes
# \r, which would change the value). Files are hashed by parallel workers (CHECKSUM_JOBS, else one per CPU), one
# output file each, so no two workers' lines can interleave.
snapshot_checksum() {
  local dir=$1 tmp jobs=${CHECKSUM_JOBS:-} pid part sum status=0 pids=()
  [[ -n $jobs ]] || jobs=$(nproc 2>/dev/null || echo 2)
  ((jobs >= 1 && jobs <= 32)) || jobs=$((jobs < 1 ? 1 : 32))
  tmp=$(mktemp -d "$GDIB_WORK/checksum.XXXXXX") || return 1
  # The files are dealt to the workers largest first, each to the one with the fewest bytes so far, so that one
  # large file does not leave the other workers idle (round-robin by count measured ~12 % slower on real layers).
  # shellcheck disable=SC2016 # a perl program, not shell
  if ! (cd "$dir" && find . -type f -printf '%s %p\0') | perl -0 -e '
      my ($n, $out) = @ARGV; my (@f, @fh);
      while (<STDIN>) { chomp; my ($size, $path) = split / /, $_, 2; push @f, [$size, $path] }
      my @load = (0) x $n;
      for my $i (0 .. $n - 1) { open($fh[$i], ">", sprintf("%s/part.%02d", $out, $i)) or die "$!\n" }
      for my $e (sort { $b->[0] <=> $a->[0] } @f) {
        my $i = 0;
        for my $j (1 .. $n - 1) { $i = $j if $load[$j] < $load[$i] }
        $load[$i] += $e->[0];
        print { $fh[$i] } $e->[1], "\0";
      }
      for (@fh) { close($_) or die "$!\n" }' "$jobs" "$tmp"; then
    rm -rf "$tmp"
    return 1
  fi
  for part in "$tmp"/part.*; do
    (cd "$dir" && exec xargs -0 -r md5sum -z --) <"$part" >"$part.md5" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || status=1
  done
  if ((status == 0)); then
    # shellcheck disable=SC2016 # a perl program, not shell
    sum=$(perl -0 -ne 'chomp; my ($hex, $name) = /\A([0-9a-f]{32})  (.*)\z/s or die "bad md5sum output\n";
          print(($name =~ /[\\\n]/ ? "\\" : ""), $hex, "\n")' "$tmp"/part.*.md5 \
      | sort | md5sum) || status=1
    sum=${sum%% *}
  fi
  rm -rf "$tmp"
  ((status == 0)) && printf '%s\n' "$sum"
}

human_bytes() {
  local b=$1
  if ((b >= 1073741824)); then
    printf '%d.%d GB' $((b / 1073741824)) $((b % 1073741824 * 10 / 1073741824))
  elif ((b >= 1048576)); then
    printf '%d.%d MB' $((b / 1048576)) $((b % 1048576 * 10 / 1048576))
  else
    printf '%d KB' $((b / 1024))
  fi
}

# Bytes used and total on the filesystem of a path.
disk_used() { df -B1 --output=used "$1" | tail -n 1 | tr -d ' '; }
disk_size() { df -B1 --output=size "$1" | tail -n 1 | tr -d ' '; }
disk_avail() { df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }

on_err() { GDIB_FAILED_COMMAND=$1; }

# The EXIT trap: cleans up (mode-specific `cleanup`), then reports the outcome, always.
on_exit() {
  local rc=$?
  set +e
  trap - EXIT ERR
  cleanup
  if ((rc == 0)) && [[ $GDIB_SUCCEEDED == true ]]; then
    # The work is done and the disk unmounted: a shutdown from here on must not turn success into exit 143.
    trap '' TERM INT
    report_status phase "done"
    report_status state succeeded
    exit 0
  fi
  if [[ -z $GDIB_ERROR ]]; then
    GDIB_ERROR="$GDIB_STEP failed (exit status $rc)"
    [[ -z $GDIB_FAILED_COMMAND ]] || GDIB_ERROR+=": $GDIB_FAILED_COMMAND"
  fi
  report_status error "$GDIB_ERROR"
  report_status state failed
  ((rc != 0)) || rc=1
  exit "$rc"
}

start_reporting() {
  set -E
  trap 'on_err "$BASH_COMMAND"' ERR
  trap on_exit EXIT
  trap 'GDIB_ERROR="interrupted by SIGTERM during: $GDIB_STEP"; exit 143' TERM
  trap 'GDIB_ERROR="interrupted by SIGINT during: $GDIB_STEP"; exit 130' INT
  console_init
  # The run's status nonce (docs/architecture.md, VM status): each serial status line ends with ` nonce=<it>`.
  md_get GDIB_STATUS_NONCE gdib-status-nonce ""
  [[ $GDIB_STATUS_NONCE =~ ^[A-Za-z0-9_-]{8,128}$ ]] || GDIB_STATUS_NONCE=""
  report_status state running
}
