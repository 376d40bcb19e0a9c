// A long list of images against a registry that does not answer: preflight resolves them a few at a time (never
// hundreds of requests at once), and SIGTERM during preflight ends the process within seconds, exit 130, nothing
// created. The real bin/ is spawned against the emulator and a local registry that holds every request open.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { until } from '../helpers/until.js';
import { expectNothingLeft } from '../integration/harness.js';
import { RESOLVE_CONCURRENCY } from '../../src/registry/resolve.js';
import { emulatorEnv } from '../helpers/emulator-env.js';

const TOKEN = 'ya29.preflight-interrupt-token-0123456789';
const IMAGES = 200;
/** "Within seconds": generous for a loaded 2-core machine; before the bound, SIGTERM here took over a minute. */
const EXIT_AFTER_SIGNAL_MS = 5_000;

let emu: Emulator;
let registry: Server;
const sockets = new Set<Socket>();
let inFlight = 0;
let maxInFlight = 0;
let seen = 0;

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN] });
  inFlight = maxInFlight = seen = 0;
  // A registry that never answers a manifest request: each stays open until the client gives up.
  registry = createServer((req, res) => {
    seen++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.on('close', () => inFlight--);
  });
  registry.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => registry.close(r));
  await emu.close();
});

it(`${IMAGES} images against a registry that holds every request: at most ${RESOLVE_CONCURRENCY} at once, SIGTERM ends it in seconds`, async () => {
  const port = (registry.address() as { port: number }).port;
  const refs = Array.from({ length: IMAGES }, (_, i) => `--container-image=127.0.0.1:${port}/app:${i}`);
  const cli = spawnCli(
    ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--image-name=img-many', ...refs],
    emulatorEnv(emu, TOKEN),
  );
  await until(() => inFlight >= RESOLVE_CONCURRENCY, 'the registry holding a full batch of requests', 30_000);
  const signalled = Date.now();
  cli.child.kill('SIGTERM');
  const r = await cli.done;
  const took = r.exitedAt - signalled;
  expect(r.code, r.stderr).toBe(130);
  expect(took, `exited ${took} ms after SIGTERM`).toBeLessThan(EXIT_AFTER_SIGNAL_MS);
  expect(maxInFlight).toBeLessThanOrEqual(RESOLVE_CONCURRENCY);
  expect(seen).toBeLessThan(IMAGES);
  expectNothingLeft(emu);
}, 60_000);
