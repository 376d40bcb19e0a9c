// SIGINT and SIGTERM at every phase of a build: during each insert, while waiting on an operation, while
// following the VM, during detach, and while the image is made with the VM's deletion alongside. Each ends in
// cleanup, exit 130, no disk or VM left; the image is deleted unless its insert had succeeded before the signal.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import type { CallName, FaultRule } from '../emulator/index.js';
import { FAST_TUNING } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { BASE_ARGS, expectNothingLeft, Signals, useEmulator } from './harness.js';

const PHASES: CallName[] = [
  'projects.get',
  'disks.insert',
  'instances.insert',
  'zoneOperations.wait',
  'instances.getSerialPortOutput',
  'instances.getGuestAttributes',
  'instances.detachDisk',
  'instances.delete',
  'images.insert',
  'globalOperations.wait',
];

/**
 * The image is requested alongside the VM's deletion: while the signal lands during the deletion, the image is
 * still being made (its operation runs 1 s, less than the settle limit), so it is an insert in flight, deleted.
 */
const ALSO: Partial<Record<CallName, FaultRule>> = {
  'instances.delete': { match: { call: 'images.insert' }, action: { operationDelayMs: 1_000 } },
};

describe('interrupted at every phase', () => {
  const h = useEmulator();

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it.each(PHASES)(`${sig} during %s`, async (call) => {
      // The call is held in flight long enough for the signal to land while it is outstanding.
      h.emu.faults.add({ match: { call }, action: { delayMs: 400 } });
      const also = ALSO[call];
      if (also) h.emu.faults.add(also);
      const signals = new Signals();
      const running = h.cli([...BASE_ARGS, '--image-name=img-int', '--container-image=nginx:1'], { signals });
      await until(() => h.emu.faults.fired.some((f) => f.call === call), `${call} called`);
      signals.send(sig);
      const r = await running;
      expect(r.code).toBe(130);
      expect(r.stderr).toContain(`${sig} received`);
      // No settle(): an insert still in flight at the signal must have been followed to its end and deleted.
      expect(h.emu.leftovers().images).toEqual([]);
      expectNothingLeft(h.emu);
    });

    it(`${sig} while the VM is being deleted, after the image was made: the image is kept, the VM and disk deleted`, async () => {
      // GCE takes tens of seconds to delete a VM; the image is made meanwhile.
      h.emu.faults.add({ match: { call: 'instances.delete' }, action: { operationDelayMs: 60_000 } });
      const signals = new Signals();
      let stderr = '';
      const running = main([...BASE_ARGS, '--image-name=img-kept', '--container-image=nginx:1'], {
        stdout: { write: () => undefined },
        stderr: { write: (t) => void (stderr += t) },
        env: h.env,
        cwd: process.cwd(),
        signals,
        tuning: FAST_TUNING,
      });
      // The CLI says so once the insert has succeeded: from then on the image is the product.
      await until(() => stderr.includes('created image img-kept'), 'the image made');
      expect(h.emu.state.instances.size).toBe(1);
      signals.send(sig);
      expect(await running).toBe(130);
      expect(stderr).toContain(`${sig} received`);
      expect(stderr).toContain('The image was created and is kept (it was not deleted): projects/test-project/global/images/img-kept');
      expect(h.emu.leftovers().images).toEqual(['test-project/img-kept']);
      expectNothingLeft(h.emu);
    });
  }
});
