// The image step when the image is not simply made: its name taken by someone else after preflight (a concurrent
// build, a retried job), and a wait for the image that fails while GCE makes it all the same. Neither may delete an
// image: the first is not this build's, the second is the product (docs/architecture.md, Workflow).
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { BASE_ARGS, expectNothingLeft, useEmulator } from './harness.js';

const build = (name: string) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1'];

describe('creating the image', () => {
  const h = useEmulator();

  it('a name taken after preflight: exit 1 naming --image-name, the other image left as it is', async () => {
    h.emu.faults.add({ match: { call: 'images.insert' }, action: { delayMs: 300 } });
    const running = h.cli(build('img-taken'));
    await until(() => h.emu.faults.fired.some((f) => f.call === 'images.insert'), 'images.insert called');
    // Someone else's image of that name, made while this build's insert is on its way.
    h.emu.state.images.set('test-project/img-taken', {
      project: 'test-project',
      name: 'img-taken',
      labels: { owner: 'someone-else' },
      storageLocations: ['us'],
      diskSizeGb: 10,
      status: 'READY',
      id: h.emu.state.newId(),
      createdAt: Date.now(),
      seeded: true,
    });
    const r = await running;
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'error: --image-name: an image named img-taken was created by someone else while this build ran; it is not this build',
    );
    expect(h.emu.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(h.emu.state.images.get('test-project/img-taken')?.labels).toEqual({ owner: 'someone-else' });
    expectNothingLeft(h.emu);
  });

  it('waiting for the image fails but it is READY: kept as the product, exit 0 with a warning', async () => {
    // One wait refused: the operation goes on, as GCE's does.
    h.emu.faults.add({
      match: { call: 'globalOperations.wait' },
      times: 1,
      action: { status: 400, reason: 'invalid', message: 'wait refused' },
    });
    const r = await h.cli(build('img-waitfail'));
    expect(r.stderr).toMatch(/warning: waiting for the image failed \(.*wait refused.*\), but it is READY: kept as this build's image/);
    expect(r.code).toBe(0);
    expect(h.emu.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-waitfail']);
    expect(h.emu.leftovers().disks).toEqual([]);
    expect(h.emu.leftovers().instances).toEqual([]);
  });
});
