import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEVICE_NAME, renderMetadata, startupScript, type MetadataInput } from '../../src/startup-script/render.js';
import { run } from '../rig/proc.js';
import { onPath } from '../rig/rig.js';

const input: MetadataInput = {
  mode: 'build',
  runId: 'abc123',
  containerImages: ['gcr.io/p/a:1', 'docker.io/library/b@sha256:' + 'a'.repeat(64)],
  imagePullAuth: 'Auto',
  storeChecksums: false,
  platform: 'linux/arm64',
};

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('renderMetadata', () => {
  it('renders the keys of docs/architecture.md, VM metadata, the images one per line', () => {
    const items = Object.fromEntries(renderMetadata(input).map((i) => [i.key, i.value]));
    expect(Object.keys(items).sort()).toEqual(
      [
        'startup-script',
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

  it('never puts metadata values into the script itself', () => {
    const evil = { ...input, containerImages: ['$(touch /tmp/x)', '`id`'], runId: '$RANDOM' };
    const script = renderMetadata(evil).find((i) => i.key === 'startup-script')?.value ?? '';
    expect(script).toBe(startupScript('build'));
    expect(script).not.toContain('touch /tmp/x');
  });

  it.each(['build', 'verify'] as const)('inlines common.sh into the %s script and stamps the version', (mode) => {
    const script = startupScript(mode);
    expect(script.startsWith('#!/bin/bash\n')).toBe(true);
    expect(script).not.toMatch(/^source /m);
    expect(script).toContain('snapshot_checksum() {');
    expect(script).toContain(`readonly GDIB_TOOL_VERSION="${pkg.version}"`);
    expect(script).not.toContain('__GDIB_VERSION__');
    expect(Buffer.byteLength(script)).toBeLessThan(256 * 1024); // GCE's limit for one metadata value
  });

  const noShellcheck = !onPath('shellcheck') && !!process.env.GDIB_SKIP_RIG;
  it.skipIf(noShellcheck).each(['build', 'verify'] as const)('renders a shellcheck-clean %s script', async (mode) => {
    const res = await run('shellcheck', ['--shell=bash', '-'], { input: startupScript(mode), allowFailure: true });
    expect(res.stdout + res.stderr).toBe('');
    expect(res.code).toBe(0);
  });
});
