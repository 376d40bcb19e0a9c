import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { agentBundle, DEVICE_NAME, renderMetadata, startupScript, type MetadataInput } from '../../src/startup-script/render.js';
import { COMMANDS_OF, DATA_BUILD_COMMANDS, MD, PACKAGE_OF } from '../../src/vm/contract.js';
import { run } from '../rig/proc.js';

const input: MetadataInput = {
  mode: 'build',
  runId: 'abc123',
  containerImages: ['gcr.io/p/a:1', 'docker.io/library/b@sha256:' + 'a'.repeat(64)],
  imagePullAuth: 'Auto',
  storeChecksums: false,
  platform: 'linux/arm64',
};

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
/** GCE's limits: one metadata value, and all of an instance's metadata. */
const VALUE_LIMIT = 256 * 1024;
const TOTAL_LIMIT = 512 * 1024;

describe('renderMetadata', () => {
  it('renders the keys of docs/architecture.md, VM metadata, the images one per line', () => {
    const items = Object.fromEntries(renderMetadata(input).map((i) => [i.key, i.value]));
    expect(Object.keys(items).sort()).toEqual(
      [
        'startup-script',
        'gdib-agent',
        'enable-guest-attributes',
        'gdib-mode',
        'gdib-run-id',
        'gdib-device-name',
        'gdib-container-images',
        'gdib-image-pull-auth',
        'gdib-store-checksums',
        'gdib-platform',
      ].sort(),
    );
    expect(items).toMatchObject({
      'enable-guest-attributes': 'TRUE',
      'gdib-mode': 'build',
      'gdib-run-id': 'abc123',
      'gdib-device-name': DEVICE_NAME,
      'gdib-container-images': `gcr.io/p/a:1\ndocker.io/library/b@sha256:${'a'.repeat(64)}`,
      'gdib-image-pull-auth': 'Auto',
      'gdib-store-checksums': 'false',
      'gdib-platform': 'linux/arm64',
    });
  });

  it('sends no item with an empty value (verify lists no image), and the optional keys only when set', () => {
    const verify = renderMetadata({ ...input, mode: 'verify', containerImages: [] });
    expect(verify.map((i) => i.key)).not.toContain(MD.containerImages);
    expect(verify.filter((i) => i.value === '')).toEqual([]);
    const items = Object.fromEntries(
      renderMetadata({
        ...input,
        pullStallTimeoutS: 90,
        statusNonce: 'n0nce-abc',
        registrySecrets: [{ host: 'r.example', secretVersion: 'projects/p/secrets/s/versions/1' }],
      }).map((i) => [i.key, i.value]),
    );
    expect(items).toMatchObject({
      [MD.pullStallTimeout]: '90',
      [MD.statusNonce]: 'n0nce-abc',
      [MD.registrySecrets]: 'r.example=projects/p/secrets/s/versions/1',
    });
  });

  it('never puts metadata values into the bootstrap or the agent', () => {
    const evil = { ...input, containerImages: ['$(touch /tmp/x)', '`id`'], runId: '$RANDOM' };
    const items = renderMetadata(evil);
    expect(items.find((i) => i.key === 'startup-script')?.value).toBe(startupScript('build'));
    expect(items.find((i) => i.key === 'gdib-agent')?.value).toBe(agentBundle());
    expect(startupScript('build')).not.toContain('touch /tmp/x');
  });

  it.each(['build', 'verify'] as const)('renders the %s bootstrap: short, every command it needs with its package', (mode) => {
    const script = startupScript(mode);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script.split('\n').length).toBeLessThanOrEqual(81);
    expect(script).not.toMatch(/__GDIB_[A-Z_]+__/);
    for (const c of COMMANDS_OF[mode]) expect(script).toContain(` ${c}=${PACKAGE_OF[c]}`.trimStart());
    expect(script).toContain('node=nodejs');
  });

  it("renders a data disk's build bootstrap with only what it runs: no containerd to install", () => {
    const data = startupScript('build', true);
    for (const c of DATA_BUILD_COMMANDS) expect(data).toContain(`${c}=${PACKAGE_OF[c]}`);
    expect(data).not.toContain('containerd=');
    expect(data).not.toContain('md5sum=');
    const plan = {
      sources: [{ kind: 'gcs' as const, bucket: 'weights', path: 'm', prefix: true, dest: 'm' }],
      fingerprint: 'a'.repeat(64),
    };
    expect(renderMetadata({ ...input, containerImages: [], dataPlan: plan }).find((i) => i.key === 'startup-script')?.value).toBe(data);
    expect(startupScript('verify', true)).toBe(startupScript('verify'));
  });

  it('bundles the agent as one ES module stamped with the version, importing nothing but Node built-ins', () => {
    const bundle = agentBundle();
    expect(bundle).toContain(JSON.stringify(pkg.version));
    const imports = [...bundle.matchAll(/\bfrom\s*"([^"]+)"/g)].map((m) => m[1]);
    expect(imports.filter((m) => !m?.startsWith('node:') && !/^[a-z_]+$/.test(m ?? ''))).toEqual([]);
  });

  it("fits GCE's metadata limits with room for the largest inputs (256 KB a value, 512 KB in all)", () => {
    // Large inputs: 100 long references pinned by digest, 50 registry secrets with long names, the longest nonce.
    const big: MetadataInput = {
      ...input,
      containerImages: Array.from(
        { length: 100 },
        (_, i) => `us-docker.pkg.dev/${'p'.repeat(30)}/${'r'.repeat(60)}/image-${i}@sha256:${'a'.repeat(64)}`,
      ),
      registrySecrets: Array.from({ length: 50 }, (_, i) => ({
        host: `registry-${i}.example.com:5000`,
        secretVersion: `projects/${'p'.repeat(30)}/secrets/${'s'.repeat(200)}/versions/latest`,
      })),
      pullStallTimeoutS: 300,
      statusNonce: 'x'.repeat(128),
    };
    const items = renderMetadata(big);
    for (const i of items) expect(Buffer.byteLength(i.value), i.key).toBeLessThan(VALUE_LIMIT);
    const total = items.reduce((n, i) => n + Buffer.byteLength(i.key) + Buffer.byteLength(i.value), 0);
    expect(total).toBeLessThan(TOTAL_LIMIT);
    // The agent leaves room: at most half of one value.
    expect(Buffer.byteLength(agentBundle())).toBeLessThan(VALUE_LIMIT / 2);
  });

  it.each(['build', 'verify'] as const)('renders a shellcheck-clean %s bootstrap', async (mode) => {
    const res = await run('shellcheck', ['--shell=bash', '-'], { input: startupScript(mode), allowFailure: true });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
