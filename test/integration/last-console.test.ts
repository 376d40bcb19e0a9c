// The VM's console is the one record of why a build hung. Whenever a VM existed, it is read a last time before the
// VM is deleted — on failure, timeout and interrupt — and serial-port-1.log is written; a timed-out wait for the VM
// also prints the console's last lines with the error. The last read never holds up the cleanup.
import { describe, expect, it } from 'vitest';
import { serialLine } from '../emulator/index.js';
import { FAST_TUNING, runCli, Signals } from '../helpers/cli.js';
import { until } from '../helpers/until.js';
import { BASE_ARGS, expectNothingLeft, objectText, useEmulator } from './harness.js';

/** The watcher reads the console once at the start, then not for a minute: only the last read can see more. */
const SLOW_WATCH = {
  ...FAST_TUNING,
  serialMinIntervalMs: 60_000,
  serialMaxIntervalMs: 60_000,
  guestAttributesIntervalMs: 60_000,
  serialUploadIntervalMs: 60_000,
};

const serialLog = (h: ReturnType<typeof useEmulator>) => {
  const obj = [...h.emu.state.objects.keys()].find((k) => k.endsWith('/serial-port-1.log'));
  return obj ? objectText(h.emu, obj.slice('test-bucket/'.length)) : undefined;
};

/** A VM that boots, prints a line a moment later (after the watcher's first read), and never finishes. */
function hangingVm(h: ReturnType<typeof useEmulator>, lines = 1): void {
  h.emu.vm.script([
    { afterMs: 0, serial: serialLine('gdib: state=running') },
    ...Array.from({ length: lines }, (_, i) => ({ afterMs: i === 0 ? 300 : 1, serial: serialLine(`pulling layer ${i + 1}`) })),
    { afterMs: 600_000, serial: serialLine('never printed') },
  ]);
}

describe('the last read of the VM console', () => {
  const h = useEmulator();
  const args = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];

  it('a timed-out wait for the VM writes serial-port-1.log and prints the last 20 lines with the error', async () => {
    hangingVm(h, 25);
    const r = await runCli(args('img-hang', '--timeout=6s'), { env: h.env, tuning: SLOW_WATCH });
    expect(r.code).toBe(1);
    const err = r.stderr.split('\n');
    const at = err.findIndex((l) => l.startsWith('error: step "wait-vm" did not finish within --timeout (6s)'));
    expect(at, r.stderr).toBeGreaterThanOrEqual(0);
    expect(err[at + 1]).toMatch(/^The VM's serial console, last 20 lines \(all of it: gs:\/\/test-bucket\/logs\/.*serial-port-1\.log\):$/);
    const tail = err.slice(at + 2, at + 22);
    expect(tail[0]).toContain('pulling layer 6');
    expect(tail.at(-1)).toContain('pulling layer 25');
    // Read by the last look only: the watcher's one read came before the VM printed them.
    expect(serialLog(h)).toContain('pulling layer 25');
    expectNothingLeft(h.emu);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} while waiting for the VM: serial-port-1.log holds what the VM printed up to then`, async () => {
      hangingVm(h);
      const signals = new Signals();
      const running = runCli(args(`img-${sig.toLowerCase()}`), { env: h.env, tuning: SLOW_WATCH, signals });
      await until(
        () => h.emu.state.instances.size > 0 && [...h.emu.requests].some((q) => q.call === 'instances.getSerialPortOutput'),
        'first console read',
      );
      await new Promise((resolve) => setTimeout(resolve, 800));
      signals.send(sig);
      const r = await running;
      expect(r.code).toBe(130);
      expect(serialLog(h)).toContain('pulling layer 1');
      // The read came before the delete.
      const calls = h.emu.requests.map((q) => q.call);
      expect(calls.lastIndexOf('instances.getSerialPortOutput')).toBeLessThan(calls.indexOf('instances.delete'));
      expectNothingLeft(h.emu);
    });
  }

  it('a console that does not answer does not hold up the cleanup', async () => {
    hangingVm(h);
    const signals = new Signals();
    const running = runCli(args('img-stuck'), { env: h.env, tuning: { ...SLOW_WATCH, lastConsoleReadMs: 500 }, signals });
    // The watcher reads the guest attributes only after it has taken in its first console read.
    await until(() => h.emu.requests.some((q) => q.call === 'instances.getGuestAttributes'), 'first console read taken in');
    h.emu.faults.add({ match: { call: 'instances.getSerialPortOutput' }, times: Infinity, action: { hang: true } });
    signals.send('SIGINT');
    const r = await running;
    expect(r.code).toBe(130);
    expect(h.emu.requests.some((q) => q.call === 'instances.delete')).toBe(true);
    // Written all the same, with what the console gave before it stopped answering.
    expect(serialLog(h)).toContain('gdib: state=running');
    expectNothingLeft(h.emu);
  });

  it('a VM that printed nothing still gets a serial-port-1.log that says so', async () => {
    h.emu.vm.script([{ afterMs: 600_000, serial: 'never\n' }]);
    const signals = new Signals();
    const running = runCli(args('img-silent'), { env: h.env, tuning: SLOW_WATCH, signals });
    await until(() => h.emu.requests.some((q) => q.call === 'instances.getSerialPortOutput'), 'first console read');
    signals.send('SIGTERM');
    expect((await running).code).toBe(130);
    expect(serialLog(h)).toContain('had no output');
  });
});
