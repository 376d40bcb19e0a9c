// Integration harness: the CLI in-process, the real Google client libraries, the local emulator.
import { afterEach, beforeEach, expect } from 'vitest';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';
import { runCli, Signals, type CliRun } from '../helpers/cli.js';

export const TOKEN = 'ya29.integration-test-token-0123456789';

export interface Harness {
  emu: Emulator;
  env: Record<string, string>;
  cli(args: string[], opts?: { env?: Record<string, string | undefined>; signals?: Signals; cwd?: string }): Promise<CliRun>;
}

// Image checks from this machine are tested on their own (registry.test.ts); elsewhere they would reach the internet.
export const BASE_ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--skip-image-check'];
/** BASE_ARGS as verify takes them: it resolves no container image, so --skip-image-check does not apply. */
export const VERIFY_ARGS = BASE_ARGS.filter((a) => a !== '--skip-image-check');
/** BASE_ARGS as build --local takes them: no VM, so no --zone. */
export const LOCAL_ARGS = BASE_ARGS.filter((a) => !a.startsWith('--zone='));

export function useEmulator(opts: EmulatorOptions = {}): Harness {
  const h = {} as Harness;
  beforeEach(async () => {
    h.emu = await startEmulator({ acceptTokens: [TOKEN], ...opts });
    h.env = {
      CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: h.emu.computeEndpoint,
      STORAGE_EMULATOR_HOST: h.emu.storageHost,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: h.emu.storageHost,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS: h.emu.storageHost,
      CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
    };
    h.cli = (args, o = {}) => runCli(args, { env: { ...h.env, ...o.env }, signals: o.signals, cwd: o.cwd });
  });
  afterEach(async () => {
    await h.emu.close();
  });
  return h;
}

/** Every integration test ends with this: no temporary disk or VM may be left. */
export function expectNothingLeft(emu: Emulator): void {
  const left = emu.leftovers();
  expect(left.disks).toEqual([]);
  expect(left.instances).toEqual([]);
}

/** The body of the first recorded request of a call. */
export function bodyOf(emu: Emulator, method: string, pathPattern: RegExp): Record<string, unknown> {
  const r = emu.requests.find((q) => q.method === method && pathPattern.test(q.path));
  expect(r, `${method} ${pathPattern}`).toBeDefined();
  return r!.body as Record<string, unknown>;
}

export function objectText(emu: Emulator, name: string): string | undefined {
  const o = emu.state.objects.get(`test-bucket/${name}`) as { data?: Buffer } | undefined;
  return o?.data?.toString();
}

export { Signals };
