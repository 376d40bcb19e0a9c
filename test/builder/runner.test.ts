import { describe, expect, it } from 'vitest';
import { runBuild, stepsFor } from '../../src/builder/index.js';
import type { BuildEvent } from '../../src/builder/events.js';
import { BUILD_MUTATIONS, buildFlags, parseConfig } from '../helpers/plan.js';
import { ApiError } from '../../src/gcp/errors.js';
import { DEFAULT_RETRY } from '../../src/gcp/retry.js';
import { Redactor } from '../../src/io/redact.js';
import { BuildError, InterruptedError, StepTimeoutError } from '../../src/errors.js';
import { FakeCloud } from '../helpers/fake-cloud.js';

const fast = {
  instanceStatusIntervalMs: 5,
  guestAttributesIntervalMs: 5,
  serialMinIntervalMs: 2,
  serialMaxIntervalMs: 10,
  serialUploadIntervalMs: 20,
  retry: { ...DEFAULT_RETRY, maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
};

function config(extra: Record<string, string | string[]> = {}) {
  return parseConfig(buildFlags(extra), {});
}

async function build(
  cloud: FakeCloud,
  opts: { signal?: AbortSignal; extra?: Record<string, string | string[]>; events?: BuildEvent[] } = {},
) {
  const events: BuildEvent[] = opts.events ?? [];
  const out = await runBuild(config(opts.extra).plan, {
    cloud,
    emit: (e) => events.push(e),
    redactor: new Redactor(),
    signal: opts.signal ?? new AbortController().signal,
    tuning: fast,
    runId: 'abc123',
  });
  return { ...out, events };
}

describe('runner on the fake cloud', () => {
  it('runs the steps in order, requests the image once the disk is detached (the VM deletion alongside), and deletes the disk after', async () => {
    const cloud = new FakeCloud();
    const { result, error } = await build(cloud);
    expect(error).toBeUndefined();
    expect(result.state).toBe('succeeded');
    const mutating = cloud.calls.filter((c) => /insert|delete|detach/.test(c) && !c.startsWith('storage'));
    expect(mutating).toEqual(BUILD_MUTATIONS);
    // The result lists the steps in the order they started, the VM deletion (which may end last) included.
    expect(Object.keys(result.steps).filter((s) => s !== 'cleanup')).toEqual(stepsFor(config().plan).map((s) => s.name));
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
    expect(cloud.images.has('img')).toBe(true);
    expect([...cloud.objects.keys()].sort()).toEqual([
      'bucket/logs/secondary-disk-image-abc123/build.log',
      'bucket/logs/secondary-disk-image-abc123/result.json',
      'bucket/logs/secondary-disk-image-abc123/serial-port-1.log',
    ]);
  });

  it('--spot: a preempted VM and its disk are deleted and the disk, VM and wait run again once', async () => {
    const cloud = new FakeCloud();
    cloud.preemptNext = 1;
    const { result, error, events } = await build(cloud, { extra: { spot: 'true' } });
    expect(error).toBeUndefined();
    expect(result.state).toBe('succeeded');
    const mutating = cloud.calls.filter((c) => /insert|delete|detach/.test(c) && !c.startsWith('storage'));
    expect(mutating).toEqual(['disks.insert', 'instances.insert', 'instances.delete', 'disks.delete', ...BUILD_MUTATIONS]);
    expect(events.filter((e) => e.type === 'step-started').map((e) => (e as { step: string }).step)).toEqual([
      'preflight',
      'create-disk',
      'create-vm',
      'wait-vm',
      'create-disk',
      'create-vm',
      'wait-vm',
      'detach-disk',
      'delete-vm',
      'create-image',
    ]);
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
  });

  it('--spot: a second preemption fails the build naming it, and leaves nothing', async () => {
    const cloud = new FakeCloud();
    cloud.preemptNext = 2;
    const { result, error } = await build(cloud, { extra: { spot: 'true' } });
    expect(error).toBeInstanceOf(BuildError);
    expect(error!.message).toMatch(/the Spot VM was preempted 2 times \(--spot\)/);
    expect(result.state).toBe('failed');
    expect(result.leftovers).toEqual([]);
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
    expect(cloud.images.size).toBe(0);
  });

  it('verify mode creates no image and uses the verify steps', () => {
    expect(stepsFor(config({ 'verify-only': 'true' }).plan).map((s) => s.name)).toEqual([
      'preflight',
      'create-disk',
      'create-vm',
      'wait-vm',
      'delete-vm',
    ]);
  });

  it('a vm build runs the VM deletion alongside the image', () => {
    const steps = stepsFor(config().plan);
    expect(steps.filter((s) => s.alongside).map((s) => s.name)).toEqual(['delete-vm']);
    expect(steps.map((s) => s.name).slice(-3)).toEqual(['detach-disk', 'delete-vm', 'create-image']);
    expect(stepsFor(config({ 'verify-only': 'true' }).plan).some((s) => s.alongside)).toBe(false);
  });

  it('sends the image insert while the VM deletion is still outstanding; an interrupt then keeps the made image', async () => {
    const cloud = new FakeCloud();
    cloud.failures.set('instances.delete', 'hang');
    const ac = new AbortController();
    const events: BuildEvent[] = [];
    const done = build(cloud, { signal: ac.signal, events });
    await until(() => events.some((e) => e.type === 'resource-created' && e.kind === 'image'));
    // The first VM delete never answers: the image was made without waiting for it.
    expect(cloud.instances.size).toBe(1);
    ac.abort(new InterruptedError('SIGINT'));
    const { result, error } = await done;
    expect(error).toBeInstanceOf(InterruptedError);
    expect(result.state).toBe('interrupted');
    expect(result.image?.created).toBe(true);
    expect(cloud.images.has('img')).toBe(true);
    expect(cloud.calls).not.toContain('images.delete');
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
  });

  it('a failed VM deletion fails the build, is left to cleanup, and keeps the image made alongside it', async () => {
    const cloud = new FakeCloud();
    cloud.failures.set('instances.delete', () => new ApiError({ status: 403, reason: 'forbidden', message: 'denied' }, 'instances.delete'));
    const { result, error } = await build(cloud);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).step).toBe('delete-vm');
    expect(result.state).toBe('failed');
    expect(result.image?.created).toBe(true);
    expect(cloud.images.has('img')).toBe(true);
    // The fault fired once: cleanup's own delete of the VM went through.
    expect(cloud.calls.filter((c) => c === 'instances.delete')).toHaveLength(2);
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
  });

  it('an image that fails while the VM is deleted is the error reported; the VM deletion is awaited, not cut short', async () => {
    const cloud = new FakeCloud();
    cloud.failures.set('images.insert', () => new ApiError({ status: 400, reason: 'invalid', message: 'bad image' }, 'images.insert'));
    const { result, error, events } = await build(cloud);
    expect((error as BuildError).step).toBe('create-image');
    expect(result.state).toBe('failed');
    expect(events).toContainEqual(expect.objectContaining({ type: 'step-finished', step: 'delete-vm' }));
    // Deleted by its step, not again by cleanup.
    expect(cloud.calls.filter((c) => c === 'instances.delete')).toHaveLength(1);
    expect(cloud.disks.size + cloud.instances.size + cloud.images.size).toBe(0);
  });

  it.each(['disks.insert', 'instances.insert', 'instances.detachDisk', 'images.insert'])(
    'cleans up everything when %s fails',
    async (call) => {
      const cloud = new FakeCloud();
      cloud.failures.set(call, () => new ApiError({ status: 400, reason: 'invalid', message: 'boom' }, call));
      const { result, error } = await build(cloud);
      expect(error).toBeInstanceOf(BuildError);
      expect(error!.message).toContain('boom');
      expect(result.state).toBe('failed');
      expect(cloud.disks.size + cloud.instances.size + cloud.images.size).toBe(0);
    },
  );

  it('deletes a resource whose insert was interrupted midway (registered before the insert is sent)', async () => {
    const cloud = new FakeCloud();
    cloud.failures.set('instances.insert', 'hang');
    const ac = new AbortController();
    const done = build(cloud, { signal: ac.signal });
    await until(() => cloud.calls.includes('instances.insert'));
    ac.abort(new InterruptedError('SIGINT'));
    const { result, error } = await done;
    expect(error).toBeInstanceOf(InterruptedError);
    expect(result.state).toBe('interrupted');
    expect(cloud.calls).toContain('instances.delete');
    expect(cloud.calls).toContain('disks.delete');
    expect(cloud.disks.size).toBe(0);
  });

  it('a step past --timeout fails with StepTimeoutError and cleans up', async () => {
    const cloud = new FakeCloud();
    cloud.onVmStart = () => undefined; // never finishes
    const { error } = await build(cloud, { extra: { timeout: '1s' } });
    expect(error).toBeInstanceOf(StepTimeoutError);
    expect(error!.message).toContain('wait-vm');
    expect(cloud.disks.size + cloud.instances.size).toBe(0);
  });

  it('a VM failure is reported with its reason', async () => {
    const cloud = new FakeCloud();
    cloud.onVmStart = (vm) => {
      vm.serial += 'gdib: state=running\ngdib: error=pulling nginx:1: not found\ngdib: state=failed\n';
    };
    const { error, events } = await build(cloud);
    expect(error!.message).toBe('the VM reported failure: pulling nginx:1: not found');
    expect(events.some((e) => e.type === 'serial' && e.line.includes('not found'))).toBe(true);
    expect(cloud.images.size).toBe(0);
  });

  it('a failed delete names the command to run by hand', async () => {
    const cloud = new FakeCloud();
    cloud.failures.set('images.insert', () => new ApiError({ status: 400, message: 'bad' }, 'images.insert'));
    cloud.failures.set('disks.delete', () => new ApiError({ status: 403, message: 'denied' }, 'disks.delete'));
    const { result, events } = await build(cloud);
    expect(result.leftovers).toEqual([
      {
        kind: 'disk',
        name: 'secondary-disk-image-abc123-disk',
        command: 'gcloud compute disks delete secondary-disk-image-abc123-disk --project test-project --zone us-central1-a --quiet',
      },
    ]);
    expect(events.some((e) => e.type === 'cleanup-failed')).toBe(true);
  });
});

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}
