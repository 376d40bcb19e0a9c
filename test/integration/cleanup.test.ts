// `cleanup` after a build that was SIGKILLed (it cannot clean up after itself): finds the labelled disk and VM,
// lists them, deletes them unless --dry-run, and never touches anything without the labels.
import { spawn } from 'node:child_process';
import { DisksClient } from '@google-cloud/compute';
import { describe, expect, it } from 'vitest';
import { computeOptions } from '../emulator/clients.js';
import { serialLine } from '../emulator/index.js';
import { BASE_ARGS, expectNothingLeft, TOKEN, useEmulator } from './harness.js';

describe('cleanup', () => {
  const h = useEmulator();

  async function killedBuild(): Promise<void> {
    h.emu.vm.script([{ afterMs: 0, serial: serialLine('gdib: state=running') }]);
    const child = spawn(
      process.execPath,
      ['bin/gke-disk-image-builder.js', ...BASE_ARGS, '--image-name=killed', '--container-image=nginx:1'],
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

  async function unlabelledDisk(name: string): Promise<void> {
    const disks = new DisksClient(computeOptions(h.emu, TOKEN));
    const [op] = await disks.insert({ project: 'test-project', zone: 'us-central1-b', diskResource: { name, sizeGb: '10' } });
    h.emu.settle();
    expect(op.name).toBeDefined();
  }

  it('--dry-run lists what a SIGKILLed build left and deletes nothing', async () => {
    await killedBuild();
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=0', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^instance\tus-central1-a\tsecondary-disk-image-[a-z0-9]{6}-vm\trun=[a-z0-9]{6}\tage=/m);
    expect(r.stdout).toMatch(/^disk\tus-central1-a\tsecondary-disk-image-[a-z0-9]{6}-disk\t/m);
    expect(r.stderr).toContain('Dry run: nothing was deleted.');
    expect(h.emu.leftovers().instances.length).toBe(1);
  });

  it('deletes them (VM first), in all zones, and leaves unlabelled resources alone', async () => {
    await killedBuild();
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
    const r = await h.cli(['cleanup', '--project-name=test-project', '--zone=us-central1-a']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('0 older than 1h');
    expect(h.emu.leftovers().instances.length).toBe(1);
    const again = await h.cli(['cleanup', '--project-name=test-project', '--zone=us-central1-a', '--older-than=0s']);
    expect(again.code).toBe(0);
    expectNothingLeft(h.emu);
  });

  it('rejects bad flags with exit 2 before any call', async () => {
    const r = await h.cli(['cleanup', '--project-name=test-project', '--older-than=soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--older-than: expected a duration');
    expect(h.emu.requests.length).toBe(0);
  });
});
