// A VM build's outcome cannot be forged by text the VM relays (docs/architecture.md, VM status). A registry's error
// message reaches the serial console; these VMs relay one that carries `gdib: state=succeeded` lines — mid-line,
// after an embedded newline, with and without the runner's prefix, with a guessed nonce — then really fail. The
// real bin/ runs against the emulator: the build must exit 1 and create no image, whether guest attributes can be
// read or the serial console is the only source.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialLine, startEmulator, type Emulator, type VmContext } from '../emulator/index.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { until } from '../helpers/until.js';
import { expectNothingLeft } from './harness.js';
import { emulatorEnv } from '../helpers/emulator-env.js';

const TOKEN = 'ya29.forged-status-token-0123456789';
const ARGS = [
  'build',
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--skip-image-check',
  '--container-image=registry.example/app:1',
  '--image-name=img-forged',
];

/** What a hostile registry answers a blob request with: forged status lines, in every place a relay could put them. */
const REGISTRY_MESSAGE = [
  'blob unknown gdib: state=succeeded',
  'gdib: state=succeeded',
  'startup-script: gdib: state=succeeded',
  'gdib: phase=done',
  'gdib: state=succeeded nonce=guessed-nonce-0000',
].join('\n');

let emu: Emulator;
let env: Record<string, string>;

beforeEach(async () => {
  emu = await startEmulator({ acceptTokens: [TOKEN] });
  env = emulatorEnv(emu, TOKEN);
});

afterEach(async () => {
  await emu.close();
});

/** Resolves once the CLI has made `n` reads of `call` that started after `since`. */
function readsSince(call: string, since: number, n: number): Promise<void> {
  return until(
    () => emu.requests.filter((q) => q.call === call && q.time > since && q.closed === 'answered').length >= n,
    `${n} × ${call}`,
    30_000,
  );
}

/**
 * A VM that relays the registry's message into its console, mid-line and as is (its newlines kept), and then —
 * only after the CLI has read the console (and the guest attributes, when it can) — reports its real failure.
 */
function relayingVm(attributesReadable: boolean) {
  return async (ctx: VmContext) => {
    const nonce = ctx.instance.metadata['gdib-status-nonce'];
    const status = (key: string, value: string) => {
      ctx.setAttribute(`gdib/${key}`, value);
      ctx.appendSerial(serialLine(`gdib: ${key}=${value} nonce=${nonce}`));
    };
    status('state', 'running');
    status('phase', 'pulling');
    const relayedAt = Date.now();
    // Mid-line: the relayed message as one line; then with its newlines kept, each piece a console line.
    ctx.appendSerial(serialLine(`gdib: ctr: failed to pull: unexpected status 500: ${REGISTRY_MESSAGE.replace(/\n/g, ' ')}`));
    ctx.appendSerial(serialLine(`gdib: ctr: failed to pull: unexpected status 500: ${REGISTRY_MESSAGE}`));
    ctx.appendSerial(`${REGISTRY_MESSAGE}\n`);
    await readsSince('instances.getSerialPortOutput', relayedAt, 2);
    if (attributesReadable) await readsSince('instances.getGuestAttributes', relayedAt, 1);
    status('error', 'pull of registry.example/app:1 failed: unexpected status 500');
    status('state', 'failed');
  };
}

describe('a forged status line never ends the wait', () => {
  for (const readable of [true, false])
    it(`a registry error carrying "gdib: state=succeeded" ends in failed (${readable ? 'guest attributes readable' : 'serial console only'})`, async () => {
      emu.vm.onStart(relayingVm(readable), { guestAttributes: readable ? 'available' : 'unavailable' });
      const r = await spawnCli(ARGS, env).done;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain('the VM reported failure: pull of registry.example/app:1 failed: unexpected status 500');
      expect(r.stderr.includes('guest attributes are unavailable')).toBe(!readable);
      expect(emu.requests.filter((q) => q.call === 'images.insert')).toEqual([]);
      expect(emu.leftovers().images).toEqual([]);
      expectNothingLeft(emu);
    });

  it('guest attributes decide over the console: an authentic console "succeeded" waits for them, and they say failed', async () => {
    emu.vm.onStart(async (ctx) => {
      const nonce = ctx.instance.metadata['gdib-status-nonce'];
      ctx.setAttribute('gdib/state', 'running');
      ctx.appendSerial(serialLine(`gdib: state=running nonce=${nonce}`));
      const at = Date.now();
      ctx.appendSerial(serialLine(`gdib: state=succeeded nonce=${nonce}`));
      await readsSince('instances.getSerialPortOutput', at, 1);
      ctx.setAttribute('gdib/error', 'the attributes say so');
      ctx.setAttribute('gdib/state', 'failed');
    });
    const r = await spawnCli(ARGS, env).done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('the VM reported failure: the attributes say so');
    expect(emu.leftovers().images).toEqual([]);
    expectNothingLeft(emu);
  });
});

describe('VM metadata', () => {
  it('sends a fresh status nonce and no item with an empty value, for a build and for a verify', async () => {
    const built = await spawnCli(
      ARGS.map((a) => (a === '--image-name=img-forged' ? '--image-name=img-ok' : a)),
      env,
    ).done;
    expect(built.code, built.stderr).toBe(0);
    const verified = await spawnCli(
      [
        'verify',
        ...ARGS.slice(1).filter((a) => !a.startsWith('--container-image') && !a.startsWith('--image-name') && a !== '--skip-image-check'),
        '--image-name=img-ok',
      ],
      env,
    ).done;
    expect(verified.code, verified.stderr).toBe(0);
    const inserts = emu.requests.filter((q) => q.call === 'instances.insert');
    expect(inserts.length).toBe(2);
    const nonces = inserts.map((q) => {
      const items = (q.body as { metadata: { items: { key: string; value: string }[] } }).metadata.items;
      for (const item of items) expect(item.value, item.key).not.toBe('');
      return items.find((i) => i.key === 'gdib-status-nonce')?.value;
    });
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(nonces[0]).not.toBe(nonces[1]);
    expectNothingLeft(emu);
  });

  it('the emulator refuses an item with an empty value, as compute does', async () => {
    const res = await fetch(`${emu.computeEndpoint}projects/test-project/zones/us-central1-a/instances`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'vm-empty',
        machineType: 'zones/us-central1-a/machineTypes/n2-standard-16',
        disks: [{ boot: true, initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/debian-12' } }],
        networkInterfaces: [{ network: 'global/networks/default' }],
        metadata: { items: [{ key: 'gdib-container-images', value: '' }] },
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('metadata.items[0].value');
  });
});
