// The whole agent run against a fake system seam and a fake metadata server: no root, no rig, milliseconds. What the
// CLI sees: the status facts (guest attributes, then serial lines), the exit status, and that relayed text can
// never forge a status line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseStatusLine } from '../../../src/vm/contract.js';
import { runAgent } from '../../../src/vm/agent/run.js';
import { fakeMetadataFetch } from '../../rig/agent-ctx.js';
import { FakeSystem } from './fake-system.js';

const root = mkdtempSync(join(tmpdir(), 'gdib-agent-run-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;

const FORGED = 'manifest unknown: gdib: state=succeeded\ngdib: state=succeeded\r\nstartup-script: gdib: state=succeeded';

function buildSystem(pull: { lines: string[]; code?: number; hang?: boolean }): FakeSystem {
  const sys = new FakeSystem(
    (cmd, args) => {
      if (cmd === 'blockdev') return { code: 0, stdout: '1073741824\n', stderr: '' };
      if (cmd === 'ctr' && args.includes('version')) return { code: 0, stdout: 'Client: 1.6', stderr: '' };
      return undefined;
    },
    (cmd, args) => {
      if (cmd === 'containerd') {
        const config = args[args.indexOf('--config') + 1] ?? '';
        writeFileSync(join(config, '..', 'containerd.sock'), '');
        return { hang: true };
      }
      if (cmd === 'ctr' && args.includes('pull')) return pull;
      return undefined;
    },
  );
  sys.blockDevices.add('/dev/fake-disk');
  return sys;
}

async function agent(sys: FakeSystem, attributes: Record<string, string>) {
  const dir = join(root, String(++runs));
  const lines: string[] = [];
  const guest: [string, string][] = [];
  const res = await runAgent({
    mdHost: 'metadata.test',
    env: {
      device: '/dev/fake-disk',
      workDir: join(dir, 'work'),
      mountDir: dir,
      secretManagerEndpoint: 'http://127.0.0.1:1',
      path: '/usr/bin:/bin',
    },
    version: '0.0.0-test',
    sys,
    sink: (l) => lines.push(l),
    fetch: fakeMetadataFetch({
      guest,
      attributes: { 'enable-guest-attributes': 'TRUE', 'gdib-mode': 'build', 'gdib-container-images': 'r.example/app:1', ...attributes },
    }),
  });
  const facts = lines.map((l) => parseStatusLine(l)).filter((f) => f !== undefined);
  return { ...res, lines, guest, facts };
}

describe('the agent run, against a fake system', () => {
  it('fails when a registry error carries forged status lines: no line of its output reads as success', async () => {
    // ctr's output as it comes (split into lines), and once more with the line breaks inside one line.
    const sys = buildSystem({ lines: [...FORGED.split('\n'), `ctr: failed to resolve reference "r.example/app:1": ${FORGED}`], code: 1 });
    const r = await agent(sys, {});
    expect(r.code).toBe(1);
    expect(r.guest.at(-1)).toEqual(['gdib/state', 'failed']);
    expect(r.facts.at(-1)).toEqual({ key: 'state', value: 'failed' });
    expect(r.facts.filter((f) => f.key === 'state').map((f) => f.value)).toEqual(['running', 'failed']);
    for (const line of r.lines) {
      expect(line.startsWith('gdib: ')).toBe(true);
      expect(line).not.toMatch(/[\r\n]/);
    }
    // The registry's text is in the error, on the error's own line, after its key.
    const error = r.guest.find(([k]) => k === 'gdib/error')?.[1] ?? '';
    expect(error).toMatch(/^pulling r\.example\/app:1 failed: failed to resolve reference/);
    expect(error).toContain('gdib: state=succeeded');
  });

  it('reports the facts in guest attributes first, then on the console, in the same order', async () => {
    const r = await agent(buildSystem({ lines: ['ctr: something broke'], code: 1 }), {});
    expect(r.guest.map(([k, v]) => ({ key: k.replace(/^gdib\//, ''), value: v }))).toEqual(r.facts);
    expect(r.error).toBe('pulling r.example/app:1 failed: something broke');
  });

  it('fails a pull that receives no bytes for the stall timeout, naming the image and the registry', async () => {
    const started = Date.now();
    const r = await agent(buildSystem({ lines: [], hang: true }), { 'gdib-pull-stall-timeout': '1' });
    expect(r.code).toBe(1);
    expect(r.error).toBe('pulling r.example/app:1 stalled: no bytes received from registry r.example for 1 s (--pull-stall-timeout)');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('rejects bad metadata before touching anything', async () => {
    const sys = buildSystem({ lines: [] });
    const r = await agent(sys, { 'gdib-pull-stall-timeout': '0' });
    expect(r.error).toBe("invalid gdib-pull-stall-timeout '0' (expected a whole number of seconds, 1 or more)");
    expect(sys.calls).toEqual([]);
    const bad = await agent(sys, { 'gdib-container-images': 'ok/one:1\n-rm\n' });
    expect(bad.error).toBe("invalid container image reference in gdib-container-images: '-rm'");
  });

  it('fails before pulling when it cannot get a token, saying so', async () => {
    const sys = buildSystem({ lines: [], code: 1 });
    const r = await agent(sys, { 'gdib-image-pull-auth': 'ServiceAccountToken' });
    expect(r.error).toBe('cannot get an access token for r.example/app:1 from the metadata server: HTTP 404');
    expect(sys.calls.some((c) => c.cmd === 'ctr' && c.args.includes('pull'))).toBe(false);
  });
});
