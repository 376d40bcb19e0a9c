import { CRC32C } from '@google-cloud/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storageClient } from './clients.js';
import { startEmulator, type Emulator } from './index.js';
import { crc32cBase64 } from './storage/crc32c.js';

const TOKEN = 'ya29.storage-token';
let emu: Emulator;

beforeEach(async () => {
  emu = await startEmulator({
    acceptTokens: [TOKEN],
    buckets: [{ name: 'test-bucket' }, { name: 'write-only', permissions: ['storage.objects.create'] }],
  });
});
afterEach(() => emu.close());

describe('storage through @google-cloud/storage v7', () => {
  it('uploads (multipart), overwrites, downloads, lists and deletes, with credentials on every call', async () => {
    const bucket = storageClient(emu, TOKEN).bucket('test-bucket');
    const [meta] = await bucket.getMetadata();
    expect(meta.name).toBe('test-bucket');

    const file = bucket.file('job-abc123/serial-port-1.log');
    await file.save('first line\n', { resumable: false, contentType: 'text/plain' });
    const [first] = await file.getMetadata();
    await file.save('first line\nsecond line\n', { resumable: false, contentType: 'text/plain' });
    const [second] = await file.getMetadata();
    expect(Number(second.generation)).toBeGreaterThan(Number(first.generation));
    expect((await file.download())[0].toString()).toBe('first line\nsecond line\n');
    expect(emu.state.object('test-bucket', 'job-abc123/serial-port-1.log')?.contentType).toBe('text/plain');

    await bucket.file('job-abc123/result.json').save(JSON.stringify({ state: 'succeeded' }), { resumable: false });
    await bucket.file('other/x').save('x', { resumable: false });
    const [files] = await bucket.getFiles({ prefix: 'job-abc123/' });
    expect(files.map((f) => f.name)).toEqual(['job-abc123/result.json', 'job-abc123/serial-port-1.log']);

    await file.delete();
    await expect(file.download()).rejects.toMatchObject({ code: 404 });
    await expect(storageClient(emu, TOKEN).bucket('no-such-bucket').getMetadata()).rejects.toMatchObject({
      code: 404,
      message: 'The specified bucket does not exist.',
    });
    const storageCalls = emu.requests.filter((r) => r.call.startsWith('storage.'));
    expect(storageCalls.length).toBeGreaterThan(5);
    expect(storageCalls.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('takes a resumable upload in chunks, its session started with credentials', async () => {
    const file = storageClient(emu, TOKEN).bucket('test-bucket').file('big.bin');
    const data = Buffer.alloc(600 * 1024, 7);
    const [uri] = await file.createResumableUpload();
    await file.save(data, { uri, chunkSize: 256 * 1024 });
    expect(emu.state.object('test-bucket', 'big.bin')?.data.equals(data)).toBe(true);
    const chunks = emu.requests.filter((r) => r.call === 'storage.objects.uploadChunk');
    // Given a URI, the client first asks how far the session got (`bytes */*`), then sends the chunks.
    expect(chunks.map((r) => [r.headers['content-range'], r.status])).toEqual([
      ['bytes */*', 308],
      ['bytes 0-262143/*', 308],
      ['bytes 262144-524287/*', 308],
      ['bytes 524288-614399/614400', 200],
    ]);
    const start = emu.requests.find((r) => r.call === 'storage.objects.insert');
    expect(start?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('refuses a resumable upload started without a token (what storage v7 does on its own)', async () => {
    const file = storageClient(emu, TOKEN).bucket('test-bucket').file('no-auth.log');
    await expect(file.save('x', { resumable: true })).rejects.toMatchObject({ status: 401 });
    expect(emu.requests.at(-1)).toMatchObject({ call: 'storage.objects.insert', status: 401 });
    expect(emu.requests.at(-1)?.authorization).toBeUndefined();
  });

  it('answers testPermissions with the granted subset and enforces it', async () => {
    const bucket = storageClient(emu, TOKEN).bucket('write-only');
    const [granted] = await bucket.iam.testPermissions(['storage.objects.create', 'storage.objects.delete', 'storage.objects.get']);
    expect(granted).toEqual({ 'storage.objects.create': true, 'storage.objects.delete': false, 'storage.objects.get': false });
    await bucket.file('log').save('one', { resumable: false, validation: false });
    // Overwriting needs storage.objects.delete too.
    await expect(bucket.file('log').save('two', { resumable: false, validation: false })).rejects.toMatchObject({ code: 403 });
    emu.state.buckets.get('write-only')!.permissions = [];
    const [none] = await bucket.iam.testPermissions(['storage.objects.create']);
    expect(none).toEqual({ 'storage.objects.create': false });
    await expect(bucket.getMetadata()).rejects.toMatchObject({ code: 403 });
    emu.state.buckets.get('write-only')!.permissions = 'all';
    await bucket.file('log').save('two', { resumable: false });
  });

  it('stores an object the client gzips as Cloud Storage does: compressed, transcoded on download', async () => {
    const text = 'weights '.repeat(4096);
    await storageClient(emu, TOKEN).bucket('test-bucket').file('gz/w.txt').save(text, { resumable: false, gzip: true });
    const stored = emu.state.object('test-bucket', 'gz/w.txt')!;
    expect(stored.contentEncoding).toBe('gzip');
    expect(stored.data.length).toBeLessThan(text.length / 10);
    const url = `${emu.storageHost}/storage/v1/b/test-bucket/o/gz%2Fw.txt`;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const meta = (await (await fetch(url, { headers: auth })).json()) as { contentEncoding?: string; size: string };
    expect(meta).toMatchObject({ contentEncoding: 'gzip', size: String(stored.data.length) });
    // A client that does not take gzip gets the whole object decompressed, whatever range it asked for.
    const plain = await fetch(`${url}?alt=media`, { headers: { ...auth, 'accept-encoding': 'identity', range: 'bytes=0-9' } });
    expect([plain.status, plain.headers.get('content-encoding'), await plain.text()]).toEqual([200, null, text]);
    // One that does (fetch by default) gets the stored bytes, marked gzip.
    const asIs = await fetch(`${url}?alt=media`, { headers: auth });
    expect([asIs.headers.get('content-encoding'), asIs.headers.get('x-goog-stored-content-encoding')]).toEqual(['gzip', 'gzip']);
    expect(await asIs.text()).toBe(text);
  });

  it('computes CRC32C as the client does', () => {
    for (const sample of ['', 'a', 'hello world', '\u00ff'.repeat(1000)]) {
      const c = new CRC32C();
      c.update(Buffer.from(sample));
      expect(crc32cBase64(Buffer.from(sample))).toBe(c.toString());
    }
  });
});
