// Renders the VM metadata of SPEC §4. PLACEHOLDER until the real scripts land (issue 3).
import { readFileSync } from 'node:fs';

export type VmMode = 'build' | 'verify';
export type ImagePullAuth = 'None' | 'ServiceAccountToken' | 'Auto';

export interface MetadataInput {
  mode: VmMode;
  runId: string;
  containerImages: readonly string[];
  imagePullAuth: ImagePullAuth;
  storeChecksums: boolean;
  platform: string;
}

export interface MetadataItem {
  key: string;
  value: string;
}

export const DEVICE_NAME = 'gdib-data';

/** The bash script that runs on the VM for this mode, read from the file shipped next to this module. */
export function startupScript(mode: VmMode): string {
  return readFileSync(new URL(mode === 'build' ? './build.sh' : './verify.sh', import.meta.url), 'utf8');
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
  ];
}
