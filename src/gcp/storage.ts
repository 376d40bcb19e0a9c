// StorageApi over @google-cloud/storage: bucket checks with testIamPermissions, simple (non-resumable) writes,
// which overwrite in place (the serial log is rewritten while it grows).
import type { Clients } from './clients.js';
import { withRetry, type RetryHooks, type RetryPolicy } from './retry.js';
import type { DeleteOutcome, StorageApi } from './types.js';
import { isNotFound } from './errors.js';

export class GoogleStorage implements StorageApi {
  constructor(
    private readonly clients: Clients,
    private readonly retry: RetryPolicy,
    private readonly hooks: RetryHooks = {},
  ) {}

  async testBucketPermissions(bucket: string, permissions: readonly string[], signal: AbortSignal): Promise<string[]> {
    const storage = await this.clients.storage();
    const b = storage.bucket(bucket);
    // No bucket read first: roles/storage.objectUser may write objects without storage.buckets.get.
    // testIamPermissions answers any caller, and 404 when the bucket does not exist.
    const [result] = await withRetry(
      'storage.buckets.testIamPermissions',
      () => b.iam.testPermissions([...permissions]),
      signal,
      this.retry,
      this.hooks,
    );
    return permissions.filter((p) => result[p]);
  }

  async uploadFile(bucket: string, name: string, path: string, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<void> {
    const storage = await this.clients.storage();
    const file = storage.bucket(bucket).file(name);
    // The session is started explicitly: storage v7 sends no credentials when it starts one itself against a
    // custom endpoint; the session URI then needs none. A retry resumes the same session.
    const [uri] = await withRetry(
      'storage.objects.insert',
      () => file.createResumableUpload({ metadata: { contentType: 'application/gzip' } }),
      signal,
      this.retry,
      this.hooks,
    );
    await withRetry(
      'storage.objects.uploadChunk',
      () =>
        storage.bucket(bucket).upload(path, {
          destination: name,
          resumable: true,
          uri,
          validation: false,
          onUploadProgress: (p: { bytesWritten: number }) => onProgress(p.bytesWritten),
        } as never),
      signal,
      this.retry,
      this.hooks,
    );
  }

  async deleteObject(bucket: string, name: string, signal: AbortSignal): Promise<DeleteOutcome> {
    const storage = await this.clients.storage();
    try {
      await withRetry('storage.objects.delete', () => storage.bucket(bucket).file(name).delete(), signal, this.retry, this.hooks);
      return 'deleted';
    } catch (err) {
      if (isNotFound(err)) return 'not-found';
      throw err;
    }
  }

  async writeObject(bucket: string, name: string, data: string, contentType: string, signal: AbortSignal): Promise<void> {
    const storage = await this.clients.storage();
    const file = storage.bucket(bucket).file(name);
    await withRetry(
      'storage.objects.insert',
      () => file.save(data, { resumable: false, contentType, validation: false }),
      signal,
      this.retry,
      this.hooks,
    );
  }
}
