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
  mkfs.ext4 -q -F -m 0 -E lazy_itable_init=0,lazy_journal_init=0,discard "$GDIB_DEV" >"$LOGS/mkfs.log" 2>&1 \
    || fail "formatting $GDIB_DEV failed: $(tail -n 1 "$LOGS/mkfs.log")"
  mkdir -p "$GDIB_MNT"
  mount -o discard,defaults "$GDIB_DEV" "$GDIB_MNT" || fail "mounting $GDIB_DEV on $GDIB_MNT failed"
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

pull_image() {
  local i=$1 n=$2 ref=$3 full log rcfile pid rc current=pulling started=$SECONDS last=$SECONDS
  full=$(normalize_ref "$ref")
  log="$LOGS/pull-$i.log"
  rcfile="$LOGS/pull-$i.rc"
  rm -f "$rcfile"
  local args=(--hosts-dir "$HOSTS_DIR" --platform "$PLATFORM" --snapshotter overlayfs --print-chainid)
  GDIB_STEP="pulling $ref"
  report_status phase pulling
  progress "$((i - 1))/$n images"
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
  # ctr redraws a progress table every 100 ms: keep it off the serial console and out of the log.
  (
    set +e
    run_ctr images pull "${args[@]}" -- "$full" 2>&1 | grep -av --line-buffered -E 'elapsed: [0-9.]+ ?s|\|.*\|' | redact_stream >"$log"
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
      progress "$((i - 1))/$n images, $ref: $current for $((SECONDS - started)) s, $(human_bytes "${downloaded:-0}") downloaded, $(human_bytes "$(disk_used "$GDIB_MNT")") on the data disk"
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
  forget_credentials
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
  local k=0 n=${#CHAINS[@]} chain started
  for chain in "${CHAINS[@]}"; do
    k=$((k + 1))
    started=$SECONDS
    GDIB_STEP="checksumming ${SNAPSHOT_DIR[$chain]}"
    CHECKSUM[$chain]=$(snapshot_checksum "$GDIB_MNT/${SNAPSHOT_DIR[$chain]}") \
      || fail "computing the checksum of ${SNAPSHOT_DIR[$chain]} failed"
    log "checksum $k/$n ${SNAPSHOT_DIR[$chain]} ${CHECKSUM[$chain]} ($((SECONDS - started)) s)"
    progress "$k/$n snapshots"
  done
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
  install_missing curl containerd ctr jq mkfs.ext4 perl md5sum find xargs mountpoint findmnt timeout

  phase formatting
  format_and_mount
  start_containerd
  configure_hosts

  local i=0 ref
  for ref in "${IMAGES[@]}"; do
    i=$((i + 1))
    pull_image "$i" "${#IMAGES[@]}" "$ref"
    describe_image "$ref" "$PULLED_TARGET" "$PULLED_CHAIN"
  done
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
