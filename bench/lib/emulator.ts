// The local GCP emulator (test/emulator) as the benchmarks use it.
import { startEmulator, type Emulator, type RecordedRequest } from '../../test/emulator/index.js';

export const TOKEN = 'ya29.benchmark-token-0123456789';
export const BASE_ARGS = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--skip-image-check',
  '--container-image=nginx:1.27',
];

export async function emulator(): Promise<Emulator> {
  return startEmulator({ acceptTokens: [TOKEN] });
}

export function cliEnv(emu: Emulator): Record<string, string> {
  return {
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
  };
}

export type Kind = 'serial' | 'guest' | 'opwait' | 'other' | 'storage' | 'token';

/** What a recorded request is, for the API-economy tables. */
export function kindOf(call: string): Kind {
  if (call === 'instances.getSerialPortOutput') return 'serial';
  if (call === 'instances.getGuestAttributes') return 'guest';
  if (/Operations\.(wait|get)$/.test(call)) return 'opwait';
  if (call.startsWith('storage.')) return 'storage';
  if (call === 'oauth.token') return 'token';
  return 'other';
}

export function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

/** Waits until `pred` holds, checking every millisecond or so. */
export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

export type { Emulator, RecordedRequest };
