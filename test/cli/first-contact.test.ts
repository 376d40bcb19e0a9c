// First contact: the built CLI run on a machine with no credentials, or whose network is down. Each run is a child
// process with an environment written out here (nothing inherited): HOME and the gcloud config dir are empty, no
// key file, no token. A preload hook makes every host name but localhost fail to resolve inside the process, so
// nothing leaves the machine: the endpoints are the local emulator, a local "metadata server", or names under
// .invalid.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { UNRESOLVED_NAME_ATTEMPTS } from '../../src/gcp/retry.js';

const BIN = 'bin/gke-disk-image-builder.js';
const OFFLINE = './test/helpers/offline-dns.mjs';
const TOKEN = 'ya29.first-contact-token-0123456789';
const ARGS = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--image-name=img',
  '--gcs-path=gs://test-bucket/logs',
  '--container-image=nginx:1',
  '--skip-image-check',
];
// Without the fix these runs retried for over a minute; a test that fails that way fails by this limit.
const LIMIT_MS = 45_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let dir: string;
const children = new Set<ReturnType<typeof spawn>>();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gdib-first-contact-'));
});
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  rmSync(dir, { recursive: true, force: true });
});

/** A machine with no credentials of any kind: only what `extra` adds. */
function bareEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, CLOUDSDK_CONFIG: join(dir, 'gcloud'), ...extra };
}

function runCli(args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', OFFLINE, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => (children.delete(child), resolve({ code, stdout, stderr }))));
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

function expectOneNoCredentialsLine(r: Run): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(lines(r.stderr)).toHaveLength(1);
  const [line] = lines(r.stderr);
  expect(line).toMatch(/^error: no Google Cloud credentials/);
  expect(line).toContain('--gcp-oauth');
  expect(line).toContain('CLOUDSDK_AUTH_ACCESS_TOKEN');
  expect(line).toContain('Application Default Credentials');
  expect(line).toContain('gcloud auth application-default login');
  expect(r.stderr).not.toMatch(/Warning/);
}

describe('no credentials at all', () => {
  let emu: Emulator;
  beforeEach(async () => {
    emu = await startEmulator({ acceptTokens: [TOKEN] });
  });
  afterEach(async () => {
    await emu.close();
  });
  const endpoints = () => ({
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM: emu.storageHost,
  });

  it(
    'not on GCE: one line names the three ways to provide them, exit 2, and no request is made',
    async () => {
      const r = await runCli(ARGS, bareEnv({ ...endpoints(), METADATA_SERVER_DETECTION: 'none' }));
      expectOneNoCredentialsLine(r);
      expect(emu.requests).toEqual([]);
    },
    LIMIT_MS,
  );

  it(
    "the auth library's MetadataLookupWarning never reaches the terminal",
    async () => {
      // A "metadata server" that resets every connection: the auth library probes it, fails in a way it does not
      // expect, and emits a MetadataLookupWarning (Node prints those on stderr by default).
      let probes = 0;
      const metadata: Server = createServer((socket) => {
        probes++;
        socket.resetAndDestroy();
      });
      await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = metadata.address() as { port: number };
        const r = await runCli(ARGS, bareEnv({ ...endpoints(), GCE_METADATA_HOST: `127.0.0.1:${port}` }));
        expect(probes).toBeGreaterThan(0); // the warning's path was taken
        expectOneNoCredentialsLine(r);
        expect(r.stderr).not.toContain('MetadataLookupWarning');
        expect(emu.requests).toEqual([]);
      } finally {
        metadata.close();
      }
    },
    LIMIT_MS,
  );

  it(
    'cleanup says the same, exit 2',
    async () => {
      const r = await runCli(['cleanup', '--project-name=test-project'], bareEnv({ ...endpoints(), METADATA_SERVER_DETECTION: 'none' }));
      expectOneNoCredentialsLine(r);
      expect(emu.requests).toEqual([]);
    },
    LIMIT_MS,
  );
});

describe('Google API hosts that do not resolve', () => {
  it(
    'are retried briefly, then reported once per host: "cannot reach HOST: check the network or proxy"',
    async () => {
      const r = await runCli(
        [...ARGS, '--json'],
        bareEnv({
          METADATA_SERVER_DETECTION: 'none',
          CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
          CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: 'http://compute.gdib-test.invalid:9/compute/v1/',
          STORAGE_EMULATOR_HOST: 'http://storage.gdib-test.invalid:9',
        }),
      );
      expect(r.code, r.stderr).toBe(1);
      const events = lines(r.stdout).map((l) => JSON.parse(l) as { type: string; call?: string; result?: { error?: { message: string } } });
      // Each call is retried at most UNRESOLVED_NAME_ATTEMPTS - 1 times.
      const retries = events.filter((e) => e.type === 'retry');
      expect(retries.length).toBeGreaterThan(0);
      const perCall = new Map<string, number>();
      for (const e of retries) perCall.set(e.call!, (perCall.get(e.call!) ?? 0) + 1);
      for (const [call, n] of perCall) expect(n, call).toBeLessThanOrEqual(UNRESOLVED_NAME_ATTEMPTS - 1);
      // One problem per unreachable host, not one per check that needed it.
      const message = events.at(-1)!.result!.error!.message;
      const count = (s: string) => message.split(s).length - 1;
      expect(count('cannot reach compute.gdib-test.invalid: check the network or proxy')).toBe(1);
      expect(count('cannot reach storage.gdib-test.invalid: check the network or proxy')).toBe(1);
      expect(message).toContain('project test-project (--project-name)');
      expect(message).toContain('zone us-central1-a (--zone)');
      expect(lines(message)).toHaveLength(3); // "preflight found 2 problems:" and the two
      expect(r.stderr).not.toMatch(/Warning/);
    },
    LIMIT_MS,
  );
});
