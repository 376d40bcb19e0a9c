import { ZonesClient } from '@google-cloud/compute';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeOptions, storageClient } from './clients.js';
import { CALLS } from './index.js';
import { opOf, project, startKit, TOKEN, zone, type Kit } from './test-kit.js';

let kit: Kit;
beforeEach(async () => {
  kit = await startKit({ operationWaitMs: 10 });
});
afterEach(() => kit.close());

const diskBody = (name: string) => ({ name, sizeGb: '10', type: `zones/${zone}/diskTypes/pd-ssd` });

describe('fault injection', () => {
  it('routes every call name in CALLS, and refuses unknown names', () => {
    expect([...kit.emu.calls].sort()).toEqual([...CALLS].sort());
    expect(() => kit.emu.faults.add({ match: { call: 'disks.frobnicate' as never }, action: { status: 500 } })).toThrow(/unknown call/);
    expect(() => kit.emu.faults.add({ match: { call: 'disks.get' }, action: { operationHang: true } })).toThrow(/no operation/);
  });

  it('answers an error status in the API shape, `times` times, then recovers', async () => {
    kit.emu.faults.add({ match: { call: 'disks.get' }, times: 2, action: { status: 503 } });
    kit.emu.state.disks.clear();
    // The compute REST client surfaces HTTP errors as GaxiosErrors with the HTTP status as code: no automatic retry.
    await expect(kit.disks.get({ project, zone, disk: 'x' })).rejects.toMatchObject({ code: 503 });
    await expect(kit.disks.get({ project, zone, disk: 'x' })).rejects.toMatchObject({ code: 503 });
    await expect(kit.disks.get({ project, zone, disk: 'x' })).rejects.toMatchObject({ code: 404 });
    expect(kit.emu.faults.fired.map((f) => f.call)).toEqual(['disks.get', 'disks.get']);
  });

  it('answers 429 rateLimitExceeded with the usageLimits domain', async () => {
    kit.emu.faults.add({
      match: { method: 'POST', path: /\/disks$/ },
      action: { status: 429, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
    });
    const err = await kit.disks.insert({ project, zone, diskResource: diskBody('d') }).catch((e: { code: number; message: string }) => e);
    expect(err).toMatchObject({ code: 429 });
    expect(JSON.parse((err as { message: string }).message)).toEqual({
      error: {
        code: 429,
        message: 'Rate Limit Exceeded',
        errors: [{ message: 'Rate Limit Exceeded', domain: 'usageLimits', reason: 'rateLimitExceeded' }],
      },
    });
  });

  it('answers storage faults in the storage client too (403 on testPermissions)', async () => {
    kit.emu.faults.add({ match: { call: 'storage.buckets.testIamPermissions' }, action: { status: 403, message: 'nope' } });
    const bucket = storageClient(kit.emu, TOKEN).bucket('test-bucket');
    await expect(bucket.iam.testPermissions(['storage.objects.create'])).rejects.toMatchObject({ code: 403, message: 'nope' });
  });

  it('resets the connection without an answer', async () => {
    kit.emu.faults.add({ match: { call: 'zones.get' }, action: { reset: true } });
    const zones = new ZonesClient(computeOptions(kit.emu, TOKEN));
    await expect(zones.get({ project, zone })).rejects.toThrow(/socket hang up|ECONNRESET|terminated|other side closed/i);
    expect(kit.emu.requests.at(-1)).toMatchObject({ call: 'zones.get', status: 0 });
    await zones.close();
  });

  it('delays, then answers normally', async () => {
    const zones = new ZonesClient(computeOptions(kit.emu, TOKEN));
    await zones.get({ project, zone }); // warm the client up
    kit.emu.faults.add({ match: { call: 'zones.get' }, action: { delayMs: 120 } });
    const t0 = Date.now();
    const [z] = await zones.get({ project, zone });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    expect(z.name).toBe(zone);
    await zones.close();
    expect(kit.emu.faults.fired).toHaveLength(1);
  });

  it('hangs until the client gives up (storage `timeout`)', async () => {
    kit.emu.faults.add({ match: { call: 'storage.buckets.get' }, action: { hang: true } });
    const bucket = storageClient(kit.emu, TOKEN, { timeout: 150 }).bucket('test-bucket');
    const t0 = Date.now();
    await expect(bucket.getMetadata()).rejects.toThrow();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    await bucket.getMetadata();
    expect(kit.emu.requests.filter((r) => r.call === 'storage.buckets.get').map((r) => r.status)).toEqual([0, 200]);
  });

  it('hangs until the emulator closes (the compute REST client ignores its `timeout` option)', async () => {
    kit.emu.faults.add({ match: { call: 'disks.get' }, action: { hang: true } });
    const pending = kit.disks.get({ project, zone, disk: 'x' }, { timeout: 50 });
    const outcome = await Promise.race([
      pending.then(
        () => 'answered',
        () => 'failed',
      ),
      new Promise((r) => setTimeout(() => r('hanging'), 300)),
    ]);
    expect(outcome).toBe('hanging');
    await kit.emu.close();
    await expect(pending).rejects.toThrow();
  });

  it('ends an operation DONE with an error and creates nothing (operationError)', async () => {
    kit.emu.faults.add({
      match: { call: 'disks.insert' },
      action: { operationError: { code: 'QUOTA_EXCEEDED', message: "Quota 'SSD_TOTAL_GB' exceeded. Limit: 500.0 in region us-central1." } },
    });
    const op = opOf(await kit.disks.insert({ project, zone, diskResource: diskBody('quota') }));
    const [done] = await kit.zoneOps.wait({ project, zone, operation: op.name! });
    expect(done).toMatchObject({
      status: 'DONE',
      httpErrorStatusCode: 403,
      httpErrorMessage: 'FORBIDDEN',
      error: { errors: [expect.objectContaining({ code: 'QUOTA_EXCEEDED', message: expect.stringContaining('SSD_TOTAL_GB') })] },
    });
    expect(kit.emu.state.disk(project, zone, 'quota')).toBeUndefined();
    // The name is free again.
    await kit.zoneOps.wait({
      project,
      zone,
      operation: opOf(await kit.disks.insert({ project, zone, diskResource: diskBody('quota') })).name!,
    });
    expect(kit.emu.state.disk(project, zone, 'quota')).toBeDefined();
  });

  it('never finishes an operation (operationHang): wait answers it RUNNING', async () => {
    kit.emu.faults.add({ match: { call: 'disks.insert' }, action: { operationHang: true } });
    const op = opOf(await kit.disks.insert({ project, zone, diskResource: diskBody('stuck') }));
    const [waited] = await kit.zoneOps.wait({ project, zone, operation: op.name! });
    expect(waited.status).toBe('RUNNING');
    const [got] = await kit.zoneOps.get({ project, zone, operation: op.name! });
    expect(got.status).toBe('RUNNING');
    kit.emu.settle();
    expect(kit.emu.state.disk(project, zone, 'stuck')).toBeUndefined();
    await expect(kit.disks.insert({ project, zone, diskResource: diskBody('stuck') })).rejects.toMatchObject({ code: 409 });
  });

  it('faults the token endpoint too', async () => {
    kit.emu.faults.add({ match: { call: 'oauth.token' }, action: { status: 500 } });
    const res = await fetch(kit.emu.tokenUri, { method: 'POST', body: 'grant_type=x' });
    expect(res.status).toBe(500);
  });
});
