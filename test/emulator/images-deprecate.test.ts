// images.deprecate in the emulator, through the real client: the status replaces the old one; an ACTIVE image with
// times recorded stays in its family, a DEPRECATED (or OBSOLETE, DELETED) one drops out; bad bodies are 400.
import { GlobalOperationsClient, ImagesClient } from '@google-cloud/compute';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeOptions } from './clients.js';
import { startEmulator, type Emulator } from './index.js';

const project = 'test-project';
const TOKEN = 'ya29.deprecate-test';
type Op = { name?: string | null };
const opOf = (r: readonly unknown[]): Op => (r[0] as { latestResponse: Op }).latestResponse;

let emu: Emulator;
let images: ImagesClient;
let globalOps: GlobalOperationsClient;

beforeEach(async () => {
  emu = await startEmulator({
    acceptTokens: [TOKEN],
    images: [
      { project, name: 'cache-1', family: 'cache', createdAt: Date.parse('2026-01-01T00:00:00Z') },
      { project, name: 'cache-2', family: 'cache', createdAt: Date.parse('2026-02-01T00:00:00Z') },
    ],
  });
  images = new ImagesClient(computeOptions(emu, TOKEN));
  globalOps = new GlobalOperationsClient(computeOptions(emu, TOKEN));
});
afterEach(async () => {
  await Promise.all([images.close(), globalOps.close()]);
  await emu.close();
});

async function deprecate(image: string, deprecationStatusResource: Record<string, unknown>): Promise<void> {
  const op = opOf(await images.deprecate({ project, image, deprecationStatusResource }));
  const [done] = await globalOps.wait({ project, operation: op.name! });
  expect(done).toMatchObject({ status: 'DONE', operationType: 'deprecate' });
}

const newest = async () => (await images.getFromFamily({ project, family: 'cache' }))[0].name;

describe('images.deprecate', () => {
  it('seeds creation times as given', async () => {
    const [img] = await images.get({ project, image: 'cache-1' });
    expect(img.creationTimestamp).toBe('2026-01-01T00:00:00.000Z');
  });

  it('ACTIVE with times recorded: the image reports them and stays the family image', async () => {
    await deprecate('cache-2', { state: 'ACTIVE', deprecated: '2026-03-01T00:00:00Z', deleted: '2026-05-01T00:00:00Z' });
    const [img] = await images.get({ project, image: 'cache-2' });
    expect(img.deprecated).toMatchObject({ state: 'ACTIVE', deprecated: '2026-03-01T00:00:00Z', deleted: '2026-05-01T00:00:00Z' });
    expect(await newest()).toBe('cache-2');
  });

  it('DEPRECATED drops out of the family (with its replacement recorded); ACTIVE with no times brings it back', async () => {
    await deprecate('cache-2', { state: 'DEPRECATED', replacement: `projects/${project}/global/images/cache-1` });
    expect(await newest()).toBe('cache-1');
    const [img] = await images.get({ project, image: 'cache-2' });
    expect(img.deprecated).toMatchObject({ state: 'DEPRECATED', replacement: `projects/${project}/global/images/cache-1` });
    await deprecate('cache-2', { state: 'ACTIVE' });
    expect(await newest()).toBe('cache-2');
    const [back] = await images.get({ project, image: 'cache-2' });
    expect(back.deprecated ?? undefined).toBeUndefined();
  });

  it('OBSOLETE and DELETED drop out too; a family with none left is 404', async () => {
    await deprecate('cache-2', { state: 'OBSOLETE' });
    await deprecate('cache-1', { state: 'DELETED' });
    await expect(images.getFromFamily({ project, family: 'cache' })).rejects.toMatchObject({ code: 404 });
    // DELETED deletes nothing.
    expect(emu.state.images.has(`${project}/cache-1`)).toBe(true);
  });

  it('refuses an unknown state, a time that is not RFC 3339, and a missing image', async () => {
    await expect(images.deprecate({ project, image: 'cache-1', deprecationStatusResource: { state: 'GONE' } })).rejects.toMatchObject({
      code: 400,
    });
    await expect(
      images.deprecate({ project, image: 'cache-1', deprecationStatusResource: { state: 'ACTIVE', deleted: 'tomorrow' } }),
    ).rejects.toMatchObject({ code: 400 });
    await expect(images.deprecate({ project, image: 'nope', deprecationStatusResource: { state: 'DEPRECATED' } })).rejects.toMatchObject({
      code: 404,
    });
    expect(emu.state.images.get(`${project}/cache-1`)?.deprecated).toBeUndefined();
  });
});
