// Outputs after the image exists: a manifests file that cannot be written, or an interrupt while it is written,
// never deletes the image the user has paid for. The run says the image exists, gives the manifests to save
// elsewhere, and exits 1 (130 when interrupted).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { FAST_TUNING } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { BASE_ARGS, expectNothingLeft, Signals, useEmulator } from './harness.js';

const build = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];

describe('outputs after the image exists', () => {
  const h = useEmulator();

  it('a manifests file that cannot be written keeps the image, names it and the error, prints the manifests, exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-out-'));
    mkdirSync(join(dir, 'k8s'));
    // The directory passes validation, then goes away while the image is being created.
    h.emu.faults.add({ match: { call: 'images.insert' }, action: { delayMs: 300 } });
    const running = h.cli(build('img-out', '--k8s-manifests-filepath=k8s/snap.yaml', '--k8s-namespace=ml'), { cwd: dir });
    await until(() => h.emu.faults.fired.some((f) => f.call === 'images.insert'), 'images.insert called');
    rmSync(join(dir, 'k8s'), { recursive: true });
    const r = await running;

    expect(r.code).toBe(1);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-out']);
    expect(h.emu.requests.some((q) => q.call === 'images.delete')).toBe(false);
    const path = join(dir, 'k8s/snap.yaml');
    expect(r.stderr).toContain(`error: could not write the Kubernetes manifests to ${path} (--k8s-manifests-filepath): ENOENT`);
    expect(r.stderr).toContain('The image was created and is kept (it was not deleted): projects/test-project/global/images/img-out');
    expect(r.stderr).toContain(`The Kubernetes manifests were not written to ${path}; the image needs no rebuild`);
    // No directory was created for it.
    expect(existsSync(join(dir, 'k8s'))).toBe(false);
    expect(r.stdout).toContain('kind: VolumeSnapshot\nmetadata:\n  name: img-out-vs\n  namespace: ml');
    expect(r.stdout).toContain('snapshotHandle: projects/test-project/global/images/img-out');
    // The temporary disk and VM are gone all the same.
    expectNothingLeft(h.emu);
  });

  it('--json: the result says the image exists and carries the unwritten manifests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-out-'));
    mkdirSync(join(dir, 'k8s'));
    h.emu.faults.add({ match: { call: 'images.insert' }, action: { delayMs: 300 } });
    const running = h.cli(build('img-outj', '--json', `--k8s-manifests-filepath=${join(dir, 'k8s/snap.yaml')}`));
    await until(() => h.emu.faults.fired.some((f) => f.call === 'images.insert'), 'images.insert called');
    rmSync(join(dir, 'k8s'), { recursive: true });
    const r = await running;
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!).result;
    expect(result).toMatchObject({
      version: 1,
      state: 'failed',
      image: { name: 'img-outj', uri: 'projects/test-project/global/images/img-outj', created: true },
      error: { step: 'write-manifests', message: expect.stringContaining('could not write the Kubernetes manifests') },
      unwrittenK8sManifests: { path: join(dir, 'k8s/snap.yaml'), contents: expect.stringContaining('name: img-outj-vsc') },
    });
    expect(h.emu.leftovers().images).toEqual(['test-project/img-outj']);
  });

  it('SIGTERM once the image exists does not delete it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-out-'));
    const signals = new Signals();
    let stderr = '';
    const code = await main(build('img-term', `--k8s-manifests-filepath=${join(dir, 'snap.yaml')}`), {
      stdout: { write: () => undefined },
      stderr: {
        write: (t) => {
          stderr += t;
          // The image was just created: the interrupt lands in the step that follows it.
          if (t.includes('Writing the Kubernetes manifests')) signals.send('SIGTERM');
        },
      },
      env: h.env,
      cwd: dir,
      signals,
      tuning: FAST_TUNING,
    });
    expect(code).toBe(130);
    expect(stderr).toContain('SIGTERM received');
    expect(h.emu.leftovers().images).toEqual(['test-project/img-term']);
    expect(h.emu.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(stderr).toContain('The image was created and is kept (it was not deleted): projects/test-project/global/images/img-term');
    expectNothingLeft(h.emu);
  });
});
