// SIGINT and SIGTERM at every phase of a build: during each insert, while waiting on an operation, while
// following the VM, during detach, VM deletion and image creation. Each ends in cleanup, exit 130, nothing left.
import { describe, expect, it } from 'vitest';
import type { CallName } from '../emulator/index.js';
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

describe('interrupted at every phase', () => {
  const h = useEmulator();

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it.each(PHASES)(`${sig} during %s`, async (call) => {
      // The call is held in flight long enough for the signal to land while it is outstanding.
      h.emu.faults.add({ match: { call }, action: { delayMs: 400 } });
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
  }
});
