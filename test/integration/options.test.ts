// The options users asked for: their effect on the request bodies, --dry-run, --json, --force, --keep-on-failure,
// --config, --quiet.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDeadline } from '../../src/gcp/inventory.js';
import { vmScripts } from '../emulator/index.js';
import { BASE_ARGS, bodyOf, expectNothingLeft, useEmulator } from './harness.js';

const build = (name: string, ...more: string[]) => [...BASE_ARGS, `--image-name=${name}`, '--container-image=nginx:1', ...more];

describe('options', () => {
  const h = useEmulator();

  it('--boot-image, --boot-disk-size-gb, --no-external-ip, --shielded-vm, --network-tags shape the VM', async () => {
    const r = await h.cli(
      build(
        'img-opts',
        '--boot-image=projects/debian-cloud/global/images/debian-12-bookworm-v20240312',
        '--boot-disk-size-gb=15',
        '--no-external-ip',
        '--shielded-vm',
        '--network-tags=allow-egress',
        '--network-tags=builder',
      ),
    );
    expect(r.code).toBe(0);
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as Record<string, any>;
    expect(vm.disks[0].initializeParams).toMatchObject({
      sourceImage: 'projects/debian-cloud/global/images/debian-12-bookworm-v20240312',
      diskSizeGb: '15',
    });
    expect(vm.networkInterfaces[0].accessConfigs ?? []).toEqual([]);
    expect(vm.shieldedInstanceConfig).toMatchObject({ enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    expect(vm.tags.items).toEqual(['allow-egress', 'builder']);
    expectNothingLeft(h.emu);
  });

  it('without those flags the VM has an external IP and no tags', async () => {
    expect((await h.cli(build('img-plain'))).code).toBe(0);
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as Record<string, any>;
    expect(vm.networkInterfaces[0].accessConfigs).toEqual([expect.objectContaining({ type: 'ONE_TO_ONE_NAT' })]);
    expect(vm.tags?.items ?? []).toEqual([]);
    expect(vm.shieldedInstanceConfig?.enableSecureBoot ?? false).toBe(false);
  });

  it('--dry-run runs preflight, prints the exact bodies a build would send, and creates nothing', async () => {
    const r = await h.cli(build('img-dry', '--dry-run', '--image-labels=team=ml'));
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Array<{ kind: string; name: string; body: Record<string, any> }>;
    expect(plan.map((p) => p.kind)).toEqual(['disk', 'vm', 'image']);
    expect(plan[2]!.body).toMatchObject({ name: 'img-dry', labels: { team: 'ml' }, family: 'secondary-disk-image' });
    expect(h.emu.requests.some((q) => /insert|delete/.test(q.call))).toBe(false);
    expect(h.emu.requests.some((q) => q.call === 'images.get')).toBe(true); // preflight ran
    // The same bodies a real build sends (apart from the run id).
    const real = await h.cli(build('img-dry', '--image-labels=team=ml'));
    expect(real.code).toBe(0);
    const sent = bodyOf(h.emu, 'POST', /\/instances$/);
    const planRun = /-([a-z0-9]{6})-vm$/.exec(plan[1]!.name)![1]!;
    const sentRun = /-([a-z0-9]{6})-vm$/.exec(sent.name as string)![1]!;
    // The status nonce is drawn for each run, like the run id.
    const nonceOf = (body: any) =>
      (body.metadata.items as Array<{ key: string; value: string }>).find((i) => i.key === 'gdib-status-nonce')!.value;
    // So is the deadline label, counted from the run's start: the real build's is the plan's or a later second.
    const deadlineOf = (body: any) => body.labels['gdib-deadline'] as string;
    expect(parseDeadline(deadlineOf(sent))).toBeGreaterThanOrEqual(parseDeadline(deadlineOf(plan[1]!.body))!);
    const norm = (o: any, run: string) =>
      JSON.parse(JSON.stringify(o).split(run).join('RUNID').split(nonceOf(o)).join('NONCE').split(deadlineOf(o)).join('DEADLINE'));
    // toMatchObject: the client library adds empty defaults of its own (e.g. resourceManagerTags: {}).
    expect(norm(sent, sentRun)).toMatchObject(norm(plan[1]!.body, planRun));
  });

  it('--json: stdout is only versioned JSON events, the last one the result', async () => {
    const r = await h.cli(build('img-json', '--json'));
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, any>);
    expect(events.every((e) => e.v === 1 && typeof e.type === 'string' && typeof e.time === 'string')).toBe(true);
    const last = events.at(-1)!;
    expect(last.type).toBe('result');
    expect(last.result).toMatchObject({
      state: 'succeeded',
      image: { uri: 'projects/test-project/global/images/img-json' },
      diskSizeGb: 60,
      logs: expect.stringMatching(/^gs:\/\/test-bucket\/logs\//),
    });
    expect(last.result.next.gcloud).toContain(
      '--secondary-boot-disk=disk-image=projects/test-project/global/images/img-json,mode=CONTAINER_IMAGE_CACHE',
    );
    expect(Object.keys(last.result.steps)).toEqual(expect.arrayContaining(['preflight', 'create-disk', 'wait-vm', 'create-image']));
    expect(r.stderr).toContain('Creating the temporary VM');
  });

  it('--json on failure: the last event is the result with the error', async () => {
    h.emu.vm.script(vmScripts.fail('pull failed'));
    const r = await h.cli(build('img-jsonfail', '--json'));
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.result).toMatchObject({ state: 'failed', error: { step: 'wait-vm', message: 'the VM reported failure: pull failed' } });
  });

  it('--quiet keeps warnings, errors and the result', async () => {
    h.emu.vm.script(vmScripts.succeed(), { guestAttributes: 'unavailable' });
    const r = await h.cli(build('img-quiet', '--quiet'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Image has successfully been created');
    expect(r.stderr).toContain('warning: guest attributes are unavailable');
    expect(r.stderr).not.toContain('vm |');
    expect(r.stderr).not.toContain('Creating');
  });

  it('prints the next step after a build: gcloud, Terraform and the Autopilot allowlist', async () => {
    const r = await h.cli(build('img-next'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('--enable-image-streaming');
    expect(r.stderr).toContain('secondary_boot_disks {');
    expect(r.stderr).toContain('kind: GCPResourceAllowlist');
  });

  it('--force replaces an existing image only after the new disk is ready', async () => {
    expect((await h.cli(build('img-force'))).code).toBe(0);
    const before = h.emu.requests.length;
    const r = await h.cli(build('img-force', '--force'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('will be replaced (--force)');
    const order = h.emu.requests
      .slice(before)
      .filter((q) => /^(instances\.detachDisk|instances\.delete|images\.delete|images\.insert)$/.test(q.call))
      .map((q) => q.call);
    // The old image goes once the disk is detached, just before the new one is made; the VM is deleted alongside.
    expect(order[0]).toBe('instances.detachDisk');
    expect(order.filter((c) => c.startsWith('images.'))).toEqual(['images.delete', 'images.insert']);
    expect(order.filter((c) => c === 'instances.delete')).toHaveLength(1);
    expect(h.emu.leftovers().images).toEqual(['test-project/img-force']);
    expectNothingLeft(h.emu);
  });

  it('--keep-on-failure keeps the VM and disk and says how to reach and delete them', async () => {
    h.emu.vm.script(vmScripts.fail('boom'));
    const r = await h.cli(build('img-keep', '--keep-on-failure'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Kept for debugging \(--keep-on-failure\): vm secondary-disk-image-[a-z0-9]{6}-vm, disk /);
    expect(r.stderr).toMatch(/gcloud compute ssh secondary-disk-image-[a-z0-9]{6}-vm --project test-project --zone us-central1-a/);
    expect(r.stderr).toMatch(
      /gcloud compute instances delete secondary-disk-image-[a-z0-9]{6}-vm --project test-project --zone us-central1-a --quiet/,
    );
    expect(h.emu.leftovers().instances.length).toBe(1);
    expect(h.emu.leftovers().images).toEqual([]);
  });

  it("--config reads YAML with the flags' keys; command-line flags override it", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-cfg-'));
    writeFileSync(
      join(dir, 'build.yaml'),
      [
        'project-name: test-project',
        'zone: us-central1-a',
        'gcs-path: gs://test-bucket/logs',
        'image-name: from-file',
        'container-image:',
        '  - nginx:1',
        '  - redis:7',
        'disk-size-gb: 30',
        'skip-image-check: true',
        'image-labels: [a=b]',
      ].join('\n'),
    );
    const r = await h.cli(['--config=build.yaml', '--image-name=from-flag'], { cwd: dir });
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(bodyOf(h.emu, 'POST', /\/disks$/).sizeGb).toBe('30');
    const img = bodyOf(h.emu, 'POST', /\/global\/images$/);
    expect(img).toMatchObject({ name: 'from-flag', labels: { a: 'b' } });
    const vm = bodyOf(h.emu, 'POST', /\/instances$/) as { metadata: { items: Array<{ key: string; value: string }> } };
    expect(vm.metadata.items.find((i) => i.key === 'gdib-container-images')?.value).toBe('nginx:1\nredis:7');
  });

  it("--config problems use the flags' messages and exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-cfg-'));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ 'disk-size-gb': 5, colour: 'red' }));
    const r = await h.cli(['--config', 'bad.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown key "colour"');
    writeFileSync(
      join(dir, 'bad2.json'),
      JSON.stringify({
        'disk-size-gb': 5,
        'project-name': 'test-project',
        zone: 'us-central1-a',
        'gcs-path': 'gs://test-bucket',
        'image-name': 'x',
        'container-image': 'nginx:1',
      }),
    );
    const r2 = await h.cli(['--config', 'bad2.json'], { cwd: dir });
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('error: --disk-size-gb: expected a whole number from 10 to 65536');
    expect(h.emu.requests.length).toBe(0);
  });
});
