#!/usr/bin/env bash
# The GitHub Action's step: runs the npm package of the action's own version (one self-contained package, fetched
# by npx: no npm ci, no build), a build with the inputs, and sets the outputs. Inputs arrive as environment
# variables (INPUT_CONFIG, INPUT_ARGS: one flag per line, INPUT_DEPRECATE_AFTER, INPUT_OBSOLETE_AFTER,
# INPUT_DELETE_AFTER) and are passed as separate arguments: nothing from them is ever evaluated by the shell.
# GDIB_ACTION_PACKAGE names another package to run (a version, or a packed tarball: the tests run the package this
# checkout builds).
set -euo pipefail

root="${GITHUB_ACTION_PATH:?}"
version="$(node -p 'require(process.argv[1]).version' "$root/package.json")"
package="${GDIB_ACTION_PACKAGE:-gke-disk-image-builder@$version}"

args=(build --json)
if [[ -n "${INPUT_CONFIG:-}" ]]; then args+=(--config "$INPUT_CONFIG"); fi
# The image's lifetime inputs, each one flag (its value one argument); validated by the tool like any flag.
if [[ -n "${INPUT_DEPRECATE_AFTER:-}" ]]; then args+=("--deprecate-after=$INPUT_DEPRECATE_AFTER"); fi
if [[ -n "${INPUT_OBSOLETE_AFTER:-}" ]]; then args+=("--obsolete-after=$INPUT_OBSOLETE_AFTER"); fi
if [[ -n "${INPUT_DELETE_AFTER:-}" ]]; then args+=("--delete-after=$INPUT_DELETE_AFTER"); fi
while IFS= read -r line || [[ -n "$line" ]]; do
  line="${line#"${line%%[![:space:]]*}"}"
  line="${line%"${line##*[![:space:]]}"}"
  [[ -n "$line" ]] && args+=("$line")
done <<< "${INPUT_ARGS:-}"

result="${RUNNER_TEMP:-/tmp}/gke-disk-image-builder-result.json"
events="${RUNNER_TEMP:-/tmp}/gke-disk-image-builder-events.jsonl"
code=0
npx --yes --no-update-notifier --loglevel=error --package="$package" -- gke-disk-image-builder "${args[@]}" > "$events" || code=$?
tail -n 1 "$events" | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const e = JSON.parse(s || "{}");
    process.stdout.write(JSON.stringify(e.result ?? {}, null, 2) + "\n");
  });' > "$result" || true
image="$(node -e 'const r = require(process.argv[1]); process.stdout.write(r.state === "succeeded" ? r.image.uri : "")' "$result" 2>/dev/null || true)"
{
  echo "image=$image"
  echo "result=$result"
} >> "${GITHUB_OUTPUT:-/dev/null}"
exit "$code"
