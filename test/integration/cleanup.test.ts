// `cleanup` after a build that was SIGKILLed (it cannot clean up after itself): finds the labelled disk and VM,
// lists them, deletes them unless --dry-run, and never touches anything without the labels, of a build that may
// still be running (before the deadline it labels them with), of unknown age, or in a zone it could not read.
import { spawn } from 'node:child_process';
import { DisksClient } from '@google-cloud/compute';
import { describe, expect, it } from 'vitest';
import { computeOptions } from '../emulator/clients.js';
import { serialLine } from '../emulator/index.js';
import { emulatorEnv } from '../helpers/emulator-env.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { until } from '../helpers/until.js';
import { BASE_ARGS, expectNothingLeft, TOKEN, useEmulator } from './harness.js';

/** A deadline long past, in the label's format. */
const PAST = '20000101t000000z';
/** "Promptly", on a loaded 2-core machine: the delete in flight is held for a minute. */
const EXIT_AFTER_SIGNAL_MS = 5_000;

describe('cleanup', () => {
  const h = useEmulator();

  async function killedBuild(...args: string[]): Promise<void> {
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]);
    const child = spawn(
      process.execPath,
      ['bin/gke-disk-image-builder.js', ...BASE_ARGS, '--image-name=killed', '--container-image=nginx:1', ...args],
      { env: { ...process.env, ...h.env }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let childErr = '';
    child.stderr.on('data', (d: Buffer) => void (childErr += d.toString()));
    const end = Date.now() + 30_000;
    while (!h.emu.requests.some((q) => q.call === 'instances.getSerialPortOutput')) {
      if (Date.now() > end) throw new Error(`the build never reached its VM: ${childErr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(h.emu.leftovers().instances.length).toBe(1);
    // The data disk, and the VM's boot disk (labelled too; GCE deletes it with the VM).
    expect(h.emu.leftovers().disks.length).toBe(2);
  }

  const managed = () => [...h.emu.state.disks.values(), ...h.emu.state.instances.values()].filter((r) => r.labels['gdib-managed']);

  /** Hours later: the killed build's deadline has passed. */
  function pastDeadline(): void {
    for (const r of managed()) if (r.labels['gdib-deadline']) r.labels['gdib-deadline'] = PAST;
  }

  /** Its resources were created `ms` earlier. */
  function backdate(ms: number): void {
    for (const r of managed()) r.createdAt -= ms;
  }

  async function unlabelledDisk(name: string): Promise<void> {
    const disks = new DisksClient(computeOptions(h.emu, TOKEN));
    const [op] = await disks.insert({ project: 'test-project', zone: 'us-central1-b', diskResource: { name, sizeGb: '10' } });
    h.emu.settle();
    expect(op.name).toBeDefined();
  }

  it('--dry-run lists what a SIGKILLed build left and deletes nothing', async () => {
    await killedBuild();
    pastDeadline();
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^instance\tus-central1-a\tsecondary-disk-image-[a-z0-9]{6}-vm\trun=[a-z0-9]{6}\tage=/m);
    expect(r.stdout).toMatch(/^disk\tus-central1-a\tsecondary-disk-image-[a-z0-9]{6}-disk\t/m);
    expect(r.stderr).toContain('Dry run: nothing was deleted.');
    expect(h.emu.leftovers().instances.length).toBe(1);
  });

  it('deletes them (VM first), in all zones, and leaves unlabelled resources alone', async () => {
    await killedBuild();
    pastDeadline();
    await unlabelledDisk('someone-elses-disk');
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0']);
    expect(r.code).toBe(0);
    const deletes = h.emu.requests.filter((q) => /^(instances|disks)\.delete$/.test(q.call)).map((q) => q.call);
    expect(deletes[0]).toBe('instances.delete');
    expect(deletes.slice(1).every((c) => c === 'disks.delete')).toBe(true);
    expect(h.emu.leftovers().disks).toEqual(['test-project/us-central1-b/someone-elses-disk']);
    expect(h.emu.leftovers().instances).toEqual([]);
  });

  it('leaves alone a disk that carries the labels but not the naming pattern, and one named like ours without them', async () => {
    await killedBuild();
    pastDeadline();
    const labels = { ...h.emu.state.disks.values().next().value!.labels } as Record<string, string>;
    const disks = new DisksClient(computeOptions(h.emu, TOKEN));
    await disks.insert({ project: 'test-project', zone: 'us-central1-a', diskResource: { name: 'prod-database', sizeGb: '10', labels } });
    await disks.insert({
      project: 'test-project',
      zone: 'us-central1-a',
      diskResource: { name: `${labels['gdib-job']}-zzzzzz-disk`, sizeGb: '10', labels: { ...labels, 'gdib-run': 'yyyyyy' } },
    });
    h.emu.settle();
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0']);
    expect(r.code).toBe(0);
    expect(h.emu.leftovers().disks.sort()).toEqual([
      'test-project/us-central1-a/prod-database',
      `test-project/us-central1-a/${labels['gdib-job']}-zzzzzz-disk`,
    ]);
    expect(h.emu.leftovers().instances).toEqual([]);
  });

  it('keeps resources younger than --older-than (default 1h)', async () => {
    await killedBuild();
    pastDeadline();
    const r = await h.cli(['cleanup', '--project-name=test-project', '--zone=us-central1-a']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('0 to delete');
    expect(h.emu.leftovers().instances.length).toBe(1);
    const again = await h.cli(['cleanup', '--project-name=test-project', '--zone=us-central1-a', '--older-than=0s']);
    expect(again.code).toBe(0);
    expectNothingLeft(h.emu);
  });

  it('leaves alone the resources of a build that may still be running, however old and whatever --older-than, until its deadline', async () => {
    const started = Date.now();
    await killedBuild('--timeout=1h30m');
    // Every step may take its --timeout: the deadline lies hours ahead, on the VM, its boot disk and the data disk.
    const deadlines = new Set(managed().map((r) => r.labels['gdib-deadline']));
    expect(deadlines.size).toBe(1);
    const [label] = [...deadlines];
    const m = /^(\d{4})(\d{2})(\d{2})t(\d{2})(\d{2})(\d{2})z$/.exec(label ?? '');
    expect(m, label).not.toBeNull();
    const deadline = Date.UTC(+m![1]!, +m![2]! - 1, +m![3]!, +m![4]!, +m![5]!, +m![6]!);
    expect(deadline - started).toBeGreaterThan(3 * 90 * 60_000);
    // Its disk and VM are 2 hours old: past the default --older-than of 1h.
    backdate(2 * 3_600_000);
    for (const olderThan of [[], ['--older-than=0']]) {
      const r = await h.cli(['cleanup', '--project-name=test-project', ...olderThan]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /left alone: instance secondary-disk-image-[a-z0-9]{6}-vm \(us-central1-a\): its build may still be running/,
      );
      expect(r.stderr).toMatch(
        /gcloud compute instances delete secondary-disk-image-[a-z0-9]{6}-vm --project test-project --zone us-central1-a/,
      );
      expect(h.emu.leftovers().instances.length).toBe(1);
      expect(h.emu.leftovers().disks.length).toBe(2);
    }
    expect(h.emu.requests.filter((q) => /\.delete$/.test(q.call))).toEqual([]);
    pastDeadline();
    const after = await h.cli(['cleanup', '--project-name=test-project']);
    expect(after.code, after.stderr).toBe(0);
    expectNothingLeft(h.emu);
  });

  it('counts a resource of unknown age as young: it is left alone, and says so', async () => {
    await killedBuild();
    pastDeadline();
    const data = [...h.emu.state.disks.values()].find((d) => d.name.endsWith('-disk'))!;
    data.createdAt = NaN;
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`left alone: disk ${data.name} (us-central1-a): no creation time, so its age is unknown`);
    expect(r.stdout).not.toContain(data.name);
    expect(h.emu.leftovers()).toMatchObject({ instances: [], disks: [`test-project/us-central1-a/${data.name}`] });
  });

  it('a zone that cannot be read makes the run incomplete: exit 1, naming the zone; what it saw elsewhere is deleted', async () => {
    await killedBuild();
    pastDeadline();
    const labels = { ...managed()[0]!.labels };
    const other = `${labels['gdib-job']}-zzzzzz-disk`;
    const disks = new DisksClient(computeOptions(h.emu, TOKEN));
    await disks.insert({
      project: 'test-project',
      zone: 'us-central1-b',
      diskResource: { name: other, sizeGb: '10', labels: { ...labels, 'gdib-run': 'zzzzzz' } },
    });
    h.emu.settle();
    h.emu.state.unreachableZones.add('us-central1-b');
    const dry = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0', '--dry-run']);
    expect(dry.code).toBe(1);
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error: could not read zone us-central1-b/);
    expect(h.emu.leftovers()).toMatchObject({ instances: [], disks: [`test-project/us-central1-b/${other}`] });
    h.emu.state.unreachableZones.clear();
    const again = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0']);
    expect(again.code, again.stderr).toBe(0);
    expectNothingLeft(h.emu);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s during the deletes exits 130 at once, listing what may be left',
    async (signal) => {
      await killedBuild();
      pastDeadline();
      h.emu.faults.add({ match: { call: 'instances.delete' }, action: { operationDelayMs: 60_000 } });
      const cli = spawnCli(['cleanup', '--project-name=test-project', '--older-than=0'], emulatorEnv(h.emu, TOKEN));
      await until(() => h.emu.requests.some((q) => q.call === 'instances.delete'), 'the VM delete', 30_000);
      const signalled = Date.now();
      cli.child.kill(signal);
      const r = await cli.done;
      const took = r.exitedAt - signalled;
      expect(r.code, r.stderr).toBe(130);
      expect(took, `exited ${took} ms after ${signal}`).toBeLessThan(EXIT_AFTER_SIGNAL_MS);
      expect(r.stderr).not.toContain('could not delete');
      expect(r.stderr).toMatch(
        /gcloud compute instances delete secondary-disk-image-[a-z0-9]{6}-vm --project test-project --zone us-central1-a/,
      );
      expect(r.stderr).toMatch(
        /gcloud compute disks delete secondary-disk-image-[a-z0-9]{6}-disk --project test-project --zone us-central1-a/,
      );
      // The data disk was not attempted: the VM holding it was not gone yet.
      expect(h.emu.requests.filter((q) => q.call === 'disks.delete')).toEqual([]);
    },
    60_000,
  );

  it('rejects bad flags with exit 2 before any call', async () => {
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--older-than: expected a duration');
    expect(h.emu.requests.length).toBe(0);
  });
});
