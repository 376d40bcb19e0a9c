// The process ends promptly once it has said its last word, whatever is still outstanding: an operation wait
// that GCE holds open for minutes, a settle timer, a retry deadline. Only a child process shows this — a request
// left in flight keeps Node alive after main() has returned — so these tests spawn the real bin/ entry against
// the emulator and measure the time from its last line of output to its exit.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, vmScripts, type CallName, type Emulator } from '../emulator/index.js';
import { FAST_TUNING, runCli, Signals } from '../helpers/cli.js';
import { spawnCli, type SpawnedRun } from '../helpers/spawn-cli.js';
import { until } from '../helpers/until.js';
import { expectNothingLeft } from '../integration/harness.js';
import { emulatorEnv } from '../helpers/emulator-env.js';

const TOKEN = 'ya29.exit-timing-token-0123456789';
const ARGS = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--skip-image-check',
  '--container-image=nginx:1',
];
/** "Within a few seconds" of the last line: generous for a loaded 2-core CI machine, far below GCE's 2-minute wait. */
const PROMPT_EXIT_MS = 4_000;
/** Long enough that an insert settles before its delete, as it does with the real default. */
const TUNING = { ...FAST_TUNING, insertSettleMs: 60_000 };

let emu: Emulator;
let env: Record<string, string>;

beforeEach(async () => {
  // GCE holds an operations.wait open for up to two minutes while the operation runs.
  emu = await startEmulator({ acceptTokens: [TOKEN], operationWaitMs: 120_000 });
  env = emulatorEnv(emu, TOKEN);
});

afterEach(async () => {
  await emu.close();
});

function expectPromptExit(r: SpawnedRun): void {
  const gap = r.exitedAt - r.lastOutputAt;
  expect(gap, `exited ${gap} ms after its last line; stderr:\n${r.stderr}`).toBeLessThan(PROMPT_EXIT_MS);
}

/** The last line on stderr, as a person reads it. */
const lastLine = (text: string) => text.trimEnd().split('\n').at(-1) ?? '';

describe('the process exits promptly after its last line', () => {
  it('after a step timeout during an insert operation, with the wait still held open', async () => {
    // The limit leaves preflight (loading the client libraries takes seconds on a busy machine) room to finish, so
    // that it is the disk's insert that runs out of time; cleanup then waits for that insert before deleting.
    emu.faults.add({ match: { call: 'disks.insert' }, action: { operationDelayMs: 30_000 } });
    const r = await spawnCli([...ARGS, '--image-name=img-timeout', '--timeout=12s'], env, { tuning: TUNING }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: step "create-disk" did not finish within --timeout \(12s\)/);
    expectPromptExit(r);
    expectNothingLeft(emu);
  }, 90_000);

  const phases: Array<{ name: string; call: CallName; setup: () => void }> = [
    {
      name: 'the disk insert',
      call: 'disks.insert',
      setup: () => emu.faults.add({ match: { call: 'disks.insert' }, action: { operationDelayMs: 4_000 } }),
    },
    {
      name: 'the VM insert',
      call: 'instances.insert',
      setup: () => emu.faults.add({ match: { call: 'instances.insert' }, action: { operationDelayMs: 4_000 } }),
    },
    {
      name: 'the wait for the VM',
      call: 'instances.getGuestAttributes',
      setup: () =>
        emu.vm.script([
          { afterMs: 0, serial: 'booting\n' },
          { afterMs: 60_000, serial: 'never\n' },
        ]),
    },
    {
      // The image is made alongside the VM's deletion: both are in flight when the signal lands.
      name: 'the image insert and the VM deletion',
      call: 'images.insert',
      setup: () => {
        emu.faults.add({ match: { call: 'images.insert' }, action: { operationDelayMs: 4_000 } });
        emu.faults.add({ match: { call: 'instances.delete' }, action: { operationDelayMs: 30_000 } });
      },
    },
  ];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    for (const p of phases) {
      it(`${sig} during ${p.name}`, async () => {
        p.setup();
        const run = spawnCli([...ARGS, `--image-name=img-${sig.toLowerCase()}`], env, { tuning: TUNING });
        await until(() => emu.requests.some((q) => q.call === p.call), `${p.call} sent`, 30_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        run.child.kill(sig);
        const r = await run.done;
        expect(r.code).toBe(130);
        expect(lastLine(r.stderr)).toBe(`error: interrupted by ${sig}`);
        expectPromptExit(r);
        expectNothingLeft(emu);
        expect(emu.leftovers().images).toEqual([]);
      }, 60_000);
    }
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} during the VM deletion, once the image is made: the image is kept`, async () => {
      // The VM's deletion is still running (its wait held open) when the image, made alongside, exists.
      emu.faults.add({ match: { call: 'instances.delete' }, action: { operationDelayMs: 30_000 } });
      const run = spawnCli([...ARGS, `--image-name=img-kept-${sig.toLowerCase()}`], env, { tuning: TUNING });
      await until(() => run.stderr().includes(`created image img-kept-${sig.toLowerCase()}`), 'the image made', 30_000);
      run.child.kill(sig);
      const r = await run.done;
      expect(r.code).toBe(130);
      expect(r.stderr).toContain(`error: interrupted by ${sig}`);
      expect(lastLine(r.stderr)).toBe(
        `The image was created and is kept (it was not deleted): projects/test-project/global/images/img-kept-${sig.toLowerCase()}`,
      );
      expectPromptExit(r);
      expectNothingLeft(emu);
      expect(emu.leftovers().images).toEqual([`test-project/img-kept-${sig.toLowerCase()}`]);
    }, 60_000);
  }

  it('after a failed build', async () => {
    emu.vm.script(vmScripts.fail('pulling nginx:1: not found'));
    const r = await spawnCli([...ARGS, '--image-name=img-fail'], env, { tuning: TUNING }).done;
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/^error: the VM reported failure: pulling nginx:1: not found/);
    expectPromptExit(r);
    expectNothingLeft(emu);
  }, 60_000);

  it('after a successful build, with every operation slow', async () => {
    emu.faults.add({ match: { call: 'images.insert' }, action: { operationDelayMs: 1_000 } });
    const r = await spawnCli([...ARGS, '--image-name=img-ok'], env, { tuning: TUNING }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('projects/test-project/global/images/img-ok');
    expectPromptExit(r);
    expectNothingLeft(emu);
  }, 60_000);
});

describe('nothing is left in flight when main() returns', () => {
  it('an interrupted insert whose operation wait is held open: the wait is abandoned, not left to run out', async () => {
    emu.faults.add({ match: { call: 'disks.insert' }, action: { operationDelayMs: 30_000 } });
    const signals = new Signals();
    // A short settle: cleanup stops following the insert after 1 s, which must abort the wait it has in flight.
    const running = runCli([...ARGS, '--image-name=img-inflight'], { env, signals, tuning: { ...FAST_TUNING, insertSettleMs: 1_000 } });
    await until(() => emu.requests.some((q) => q.call === 'zoneOperations.wait'), 'the insert is being waited on');
    signals.send('SIGINT');
    const r = await running;
    expect(r.code).toBe(130);
    const waits = emu.requests.filter((q) => q.call === 'zoneOperations.wait');
    expect(waits.length).toBeGreaterThan(0);
    // The emulator holds each wait for up to 2 minutes: only an abort by the client ends it this soon.
    await until(() => emu.requests.every((q) => q.closed !== undefined), 'every request closed', 3_000);
    expect(waits.filter((q) => q.closed === 'abandoned').length).toBeGreaterThan(0);
  }, 60_000);
});
