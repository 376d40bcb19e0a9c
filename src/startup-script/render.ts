// Renders the VM metadata (docs/architecture.md, VM metadata), with the build or verify script inlined as `startup-script`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../version.js';

export type VmMode = 'build' | 'verify';
export type ImagePullAuth = 'None' | 'ServiceAccountToken' | 'Auto';

export interface MetadataInput {
  mode: VmMode;
  runId: string;
  containerImages: readonly string[];
  imagePullAuth: ImagePullAuth;
  storeChecksums: boolean;
  platform: string;
  /**
   * `from-image`: the data disk was created from a base image this tool built, so the script mounts it without
   * formatting and reuses its snapshots (docs/architecture.md, VM metadata). Absent or `blank`: a fresh disk.
   */
  dataDisk?: 'blank' | 'from-image';
  /** Hosts whose credentials the VM reads itself from Secret Manager, by secret version name (never the secret). */
  registrySecrets?: readonly { host: string; secretVersion: string }[];
}

export interface MetadataItem {
  key: string;
  value: string;
}

export const DEVICE_NAME = 'gdib-data';

const here = dirname(fileURLToPath(import.meta.url));
const INCLUDE = /^source "\$\{BASH_SOURCE\[0\]%\/\*\}\/common\.sh" # @inline common\.sh$/m;

function asset(name: string): string {
  return readFileSync(join(here, name), 'utf8');
}

const rendered = new Map<VmMode, string>();

/**
 * The bash script that runs on the VM for this mode: the mode's script with common.sh inlined where
 * it sources it, so the one metadata value is self-contained (the VM needs no other file).
 */
export function startupScript(mode: VmMode): string {
  const cached = rendered.get(mode);
  if (cached !== undefined) return cached;
  const script = asset(mode === 'build' ? 'build.sh' : 'verify.sh');
  if (!INCLUDE.test(script)) throw new Error(`${mode}.sh does not source common.sh as render.ts expects`);
  const common = asset('common.sh').replace('__GDIB_VERSION__', VERSION);
  const result = script.replace(INCLUDE, () => `# ---- common.sh (inlined) ----\n${common}# ---- end of common.sh ----`);
  rendered.set(mode, result);
  return result;
}

export function renderMetadata(input: MetadataInput): MetadataItem[] {
  return [
    { key: 'startup-script', value: startupScript(input.mode) },
    { key: 'enable-guest-attributes', value: 'TRUE' },
    { key: 'gdib-mode', value: input.mode },
    { key: 'gdib-run-id', value: input.runId },
    { key: 'gdib-device-name', value: DEVICE_NAME },
    { key: 'gdib-container-images', value: input.containerImages.join('\n') },
    { key: 'gdib-image-pull-auth', value: input.imagePullAuth },
    { key: 'gdib-store-checksums', value: String(input.storeChecksums) },
    { key: 'gdib-platform', value: input.platform },
    ...(input.dataDisk === 'from-image' ? [{ key: 'gdib-data-disk', value: 'from-image' }] : []),
    ...(input.registrySecrets?.length
      ? [{ key: 'gdib-registry-secrets', value: input.registrySecrets.map((r) => `${r.host}=${r.secretVersion}`).join('\n') }]
      : []),
  ];
}
