#!/bin/bash
# Installs the Debian packages the startup-script rig needs (docs/vm-script.md describes the rig).
# Idempotent: installs only what is missing, so a warm CI machine spends no time here.
set -euo pipefail

packages=(
  containerd      # ctr + containerd 1.6, the same the build script installs on the VM
  docker-registry # the local OCI registries the rig pushes test images to
  skopeo          # pushes the generated OCI layouts to those registries
  pigz            # build --local compresses its archive with it when present
  apache2-utils   # htpasswd: bcrypt entries for the token-protected registry
  shellcheck      # lints the VM scripts
  e2fsprogs       # mkfs.ext4 for the loop-device data disk
  util-linux      # findmnt, mountpoint, blockdev
  mount           # mount, umount, losetup
  attr            # getfattr/setfattr, used by the script to show xattrs are kept
  curl            # the script's only HTTP client (metadata server)
  jq              # the script reads manifests and writes gdib.json with it
  ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "rig: all packages present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "rig: need root to install: ${missing[*]}" >&2
  exit 1
fi
echo "rig: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
