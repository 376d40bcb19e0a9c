#!/usr/bin/env bash
# The unit tier on each maintained LTS line of Node (22 and 24; README, Install). This machine's Node is what
# Debian's packages give (one version); the official binary of each other version comes from the npm registry's
# node-linux-<arch> package (a package the `node` package installs; the binary is inside it), installed into a
# temporary directory and removed afterwards. Run by .ci/run after the README's test command (which built dist/).
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "unit-on-lts: no Node binary package for $(uname -m)" >&2; exit 1 ;;
esac
# The unit tier: vitest.unit.config.ts where it exists (npm run test:unit), else the same directories named here.
if [[ -f vitest.unit.config.ts ]]; then
  tier=(--config vitest.unit.config.ts)
else
  tier=(test/config test/builder test/io test/registry test/gcp test/emulator test/cli/usage.test.ts test/docs.test.ts
    --exclude test/gcp/compute-description.test.ts)
fi

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
for major in 22 24; do
  npm install --prefix "$dir/node$major" --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@$major"
  bin="$dir/node$major/node_modules/node-linux-$arch/bin"
  echo "unit tier on Node $("$bin/node" --version)"
  PATH="$bin:$PATH" "$bin/node" node_modules/vitest/vitest.mjs run "${tier[@]}"
done
