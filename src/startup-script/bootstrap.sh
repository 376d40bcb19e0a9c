#!/bin/bash
# gke-disk-image-builder: the VM's startup script (docs/vm-script.md, Bootstrap). Only what must be shell: report
# `failed` if the agent cannot start, install the missing packages (Node.js among them), then exec the agent, which
# the CLI put in metadata gdib-agent. Everything read from the metadata server is data, never evaluated.
set -uo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}" LC_ALL=C
umask 022
trap '' PIPE # a closed console must not kill this script: writes fail, the guest attributes still report
readonly md="${GCE_METADATA_HOST:-metadata.google.internal}" work="${GDIB_WORK_DIR:-/var/lib/gdib}"
readonly commands="__GDIB_COMMANDS__" # command=package pairs, from src/vm/contract.ts
nonce=""

# md_get KEY: the instance attribute's value on stdout; fails when it cannot be read (404 included).
md_get() {
  curl -sSf --max-time 10 --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' \
    "http://$md/computeMetadata/v1/instance/attributes/$1"
}

# status KEY VALUE: guest attribute gdib/KEY, then the serial line (the agent's format, docs/vm-script.md).
status() {
  printf '%s' "$2" | curl -s -o /dev/null --max-time 5 --retry 2 -X PUT -H 'Metadata-Flavor: Google' \
    --data-binary @- "http://$md/computeMetadata/v1/instance/guest-attributes/gdib/$1" 2>/dev/null
  printf 'gdib: %s=%s%s\n' "$1" "$2" "${nonce:+ nonce=$nonce}" 2>/dev/null
  return 0
}

fail() {
  trap - EXIT
  status error "$1"
  status state failed
  exit 1
}
trap 'fail "the bootstrap ended unexpectedly (exit status $?)"' EXIT
trap 'fail "interrupted by SIGTERM during: installing"' TERM
trap 'fail "interrupted by SIGINT during: installing"' INT

value=$(md_get gdib-status-nonce 2>/dev/null) && [[ $value =~ ^[A-Za-z0-9_-]{8,128}$ ]] && nonce=$value
[[ $work =~ ^/[A-Za-z0-9._/@+-]*$ && $work != */ ]] || fail "GDIB_WORK_DIR must be a plain absolute path"
{ mkdir -p "$work/logs" && chmod 0700 "$work"; } || fail "cannot create the work dir $work"
status state running
status phase installing

missing=()
for pair in $commands; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || missing+=("${pair#*=}")
done
if ((${#missing[@]} > 0)); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  printf 'gdib: installing %s\n' "${missing[*]}"
  # Installing containerd would start the host's own containerd service; the agent runs its own.
  policy=/usr/sbin/policy-rc.d created=false
  [[ -e $policy ]] || { printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && created=true; }
  started=$SECONDS
  { DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 update \
    && DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 install --no-install-recommends \
      "${missing[@]}"; } >"$work/logs/apt.log" 2>&1
  rc=$?
  [[ $created == false ]] || rm -f "$policy"
  if ((rc != 0)); then
    tail -n 15 "$work/logs/apt.log" | cut -c1-300 | sed 's/^/gdib: apt: /'
    fail "installing ${missing[*]} with apt-get failed"
  fi
  printf 'gdib: installed %s in %d s\n' "${missing[*]}" $((SECONDS - started))
fi
for pair in $commands; do
  command -v "${pair%%=*}" >/dev/null 2>&1 || fail "${pair%%=*} is still missing after installing its package"
done
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || major=0
((major >= __GDIB_NODE_MAJOR__)) || fail "Node.js $major on this VM is too old for the agent (needs __GDIB_NODE_MAJOR__ or later)"

md_get gdib-agent >"$work/agent.mjs" 2>"$work/logs/bootstrap.log" \
  || fail "cannot read the agent from metadata gdib-agent: $(tail -n 1 "$work/logs/bootstrap.log" | cut -c1-200)"
trap - EXIT TERM INT
export GDIB_BOOTSTRAPPED=1 # state and phase are reported; the agent goes on from there
exec node --no-warnings "$work/agent.mjs"
