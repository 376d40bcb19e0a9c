// Preflight resolves every container image from the machine running the CLI, against a real registry
// (Debian's docker-registry, images pushed with skopeo), before anything is created.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImages } from '../../src/registry/resolve.js';
import { RegistryClient } from '../../src/registry/client.js';
import { OciLayout, type Layer } from '../rig/oci.js';
import { freePort } from '../rig/proc.js';
import { startRegistry, type Registry } from '../rig/registry.js';
import { describeRig } from '../rig/rig.js';
import { expectNothingLeft, objectText, useEmulator } from './harness.js';

const ARGS = ['--project-name=test-project', '--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--disk-size-gb=10'];
const file = (path: string, text: string): Layer => ({ entries: [{ type: 'file', path, mode: 0o644, content: Buffer.from(text) }] });

describeRig('image check in preflight', () => {
  let dir: string;
  let registry: Registry;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-imgcheck-'));
    registry = await startRegistry(join(dir, 'registry'));
    const layout = new OciLayout(join(dir, 'layout'));
    layout.addImage('v1', { layers: [file('a.txt', 'a'), file('b.txt', 'b')] });
    layout.addIndex('multi', [
      { layers: [file('x', 'amd')], platform: { os: 'linux', architecture: 'amd64' } },
      { layers: [file('x', 'ppc')], platform: { os: 'linux', architecture: 'ppc64le' } },
    ]);
    const dup = file('same.txt', 'same');
    layout.addImage('dup', { layers: [dup, file('other', 'o'), dup] });
    layout.addImage('empty', { layers: [{ entries: [] }, file('c', 'c')] });
    layout.close();
    for (const tag of ['v1', 'multi', 'dup', 'empty']) await registry.push(join(dir, 'layout'), tag, 'pf/app');
  });
  afterAll(async () => {
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const h = useEmulator();
  const ref = (tag: string) => `${registry.host}/pf/app:${tag}`;

  it('records the digest of each resolved image in result.json', async () => {
    const r = await h.cli([...ARGS, '--image-name=ok', `--container-image=${ref('v1')}`, `--container-image=${ref('multi')}`]);
    expect(r.stderr).not.toContain('warning');
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const key = [...h.emu.state.objects.keys()].find((k) => k.endsWith('/result.json'))!;
    const result = JSON.parse(objectText(h.emu, key.slice('test-bucket/'.length))!);
    expect(Object.keys(result.imageDigests).sort()).toEqual([ref('multi'), ref('v1')].sort());
    const manifest = await fetch(`http://${registry.host}/v2/pf/app/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    expect(result.imageDigests[ref('v1')]).toBe(manifest.headers.get('docker-content-digest'));
    // For an index, the digest is the platform's manifest, not the index's.
    const index = await fetch(`http://${registry.host}/v2/pf/app/manifests/multi`, {
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(result.imageDigests[ref('multi')]).not.toBe(index.headers.get('docker-content-digest'));
    expectNothingLeft(h.emu);
  });

  it('stops before creating anything for a missing tag and a missing platform, reporting both', async () => {
    const r = await h.cli([
      ...ARGS,
      '--image-name=bad',
      `--container-image=${ref('nope')}`,
      `--container-image=${ref('multi')}`,
      '--platform=linux/arm64',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${ref('nope')} does not exist in ${registry.host}`);
    expect(r.stderr).toContain(`${ref('multi')} has no linux/arm64 image (it has: linux/amd64, linux/ppc64le)`);
    expect(h.emu.requests.some((q) => q.call === 'disks.insert')).toBe(false);
  });

  it('warns about duplicate and empty layers, and goes on', async () => {
    const r = await h.cli([...ARGS, '--image-name=warn', `--container-image=${ref('dup')}`, `--container-image=${ref('empty')}`]);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: ${ref('dup')} has 1 duplicate layer(s)`);
    expect(r.stderr).toMatch(new RegExp(`warning: ${ref('empty').replace(/[.]/g, '\\.')} has 1 empty layer`));
    expectNothingLeft(h.emu);
  });

  it('says so and goes on when the registry cannot be reached from this machine', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const r = await h.cli([...ARGS, '--image-name=unreach', `--container-image=${closed}/x/y:1`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: could not check ${closed}/x/y:1 from this machine (cannot reach ${closed}`);
    expectNothingLeft(h.emu);
  });

  it('--skip-image-check makes no registry request', async () => {
    const r = await h.cli([...ARGS, '--image-name=skip', `--container-image=${ref('nope')}`, '--skip-image-check']);
    expect(r.code).toBe(0);
  });
});

describe('disk size estimate', () => {
  it('warns when the compressed size times the typical expansion exceeds the disk', async () => {
    const client = new RegistryClient(() => Promise.resolve(undefined));
    // A stand-in for the network: the arithmetic is what is under test here.
    (client as unknown as { manifest: unknown }).manifest = () =>
      Promise.resolve({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: 'sha256:' + '1'.repeat(64),
        body: { schemaVersion: 2, layers: [{ digest: 'sha256:' + '2'.repeat(64), size: 5e9 }] },
      });
    const small = await checkImages(['r.example/a:1'], 'linux/amd64', 10, client, new AbortController().signal);
    expect(small.warnings.join('\n')).toContain(
      'the images are 5.0 GB compressed, roughly 12.5 GB unpacked: --disk-size-gb=10 may be too small',
    );
    const big = await checkImages(['r.example/a:1'], 'linux/amd64', 60, client, new AbortController().signal);
    expect(big.warnings).toEqual([]);
  });
});
