/**
 * Objects: metadata, download (`alt=media` or /download/...), list, delete, and the write all
 * uploads end in. Objects carry md5Hash and crc32c (the client checks them after an upload)
 * and a new generation on every overwrite.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { ApiError } from '../errors.js';
import type { Reply, RequestContext, Router } from '../router.js';
import type { EmulatorState, StoredObject } from '../state.js';
import { timestamp } from '../compute/urls.js';
import { requireBucket, requirePermission } from './buckets.js';
import { crc32cBase64 } from './crc32c.js';

export interface ObjectDeps {
  state: EmulatorState;
  now: () => number;
  /** `http://127.0.0.1:PORT`, for mediaLink. */
  host: () => string;
}

// An object's data never changes once stored (a new upload stores a new Buffer), so its hashes are computed once:
// every GET carries them, and a ranged download of a large object would otherwise hash the whole of it per part.
const hashes = new WeakMap<Buffer, { md5: string; crc32c: string }>();
const hashesOf = (data: Buffer) => {
  let h = hashes.get(data);
  if (!h) hashes.set(data, (h = { md5: createHash('md5').update(data).digest('base64'), crc32c: crc32cBase64(data) }));
  return h;
};
const md5 = (data: Buffer): string => hashesOf(data).md5;
const crc32c = (data: Buffer): string => hashesOf(data).crc32c;

export function objectJson(deps: ObjectDeps, o: StoredObject): Record<string, unknown> {
  const enc = encodeURIComponent(o.name);
  return {
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `https://www.googleapis.com/storage/v1/b/${o.bucket}/o/${enc}`,
    mediaLink: `${deps.host()}/download/storage/v1/b/${o.bucket}/o/${enc}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: String(o.generation),
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    storageClass: 'STANDARD',
    size: String(o.data.length),
    md5Hash: md5(o.data),
    crc32c: crc32c(o.data),
    etag: `C${o.generation.toString(36)}=`,
    timeCreated: timestamp(o.updatedAt),
    updated: timestamp(o.updatedAt),
    timeStorageClassUpdated: timestamp(o.updatedAt),
    ...(o.metadata ? { metadata: o.metadata } : {}),
    ...(o.contentEncoding ? { contentEncoding: o.contentEncoding } : {}),
  };
}

/** Create or overwrite an object: needs objects.create, and objects.delete to replace one. */
export function checkWrite(deps: ObjectDeps, bucketName: string, name: string, query: URLSearchParams): void {
  const bucket = requireBucket(deps.state, bucketName);
  if (!name) throw new ApiError(400, 'required', 'Required parameter: name');
  requirePermission(bucket, 'storage.objects.create', name);
  const existing = deps.state.object(bucketName, name);
  if (existing) requirePermission(bucket, 'storage.objects.delete', name);
  const ifGen = query.get('ifGenerationMatch');
  if (ifGen !== null && Number(ifGen) !== (existing?.generation ?? 0)) {
    throw new ApiError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
  }
}

export function writeObject(
  deps: ObjectDeps,
  bucket: string,
  name: string,
  data: Buffer,
  contentType: string,
  metadata?: Record<string, string>,
  contentEncoding?: string,
): StoredObject {
  const now = deps.now();
  const previous = deps.state.object(bucket, name);
  const obj: StoredObject = {
    bucket,
    name,
    data,
    contentType,
    metageneration: 1,
    createdAt: now,
    updatedAt: now,
    generation: Math.max(now * 1000, (previous?.generation ?? 0) + 1),
    ...(metadata ? { metadata } : {}),
    ...(contentEncoding ? { contentEncoding } : {}),
  };
  deps.state.objects.set(`${bucket}/${name}`, obj);
  return obj;
}

export function registerObjects(router: Router, deps: ObjectDeps): void {
  const { state } = deps;
  const find = (bucketName: string, name: string, query: URLSearchParams, permission: string): StoredObject => {
    const bucket = requireBucket(state, bucketName);
    requirePermission(bucket, permission, name);
    const obj = state.object(bucketName, name);
    const gen = query.get('generation');
    if (!obj || (gen !== null && Number(gen) !== obj.generation))
      throw new ApiError(404, 'notFound', `No such object: ${bucketName}/${name}`);
    return obj;
  };

  const download = ({ params, query, headers }: RequestContext): Reply => {
    const obj = find(params['bucket']!, params['object']!, query, 'storage.objects.get');
    const common = {
      'content-type': obj.contentType,
      'x-goog-hash': `crc32c=${crc32c(obj.data)},md5=${md5(obj.data)}`,
      'x-goog-generation': String(obj.generation),
      'x-goog-metageneration': String(obj.metageneration),
      'x-goog-stored-content-length': String(obj.data.length),
      'x-goog-stored-content-encoding': obj.contentEncoding ?? 'identity',
      etag: `"${md5(obj.data)}"`,
    };
    // Stored gzip: as is (Content-Encoding: gzip) to a client that accepts gzip, else decompressive transcoding — the
    // whole object decompressed, any Range ignored.
    if (obj.contentEncoding === 'gzip') {
      if (!/\bgzip\b/.test(String(headers['accept-encoding'] ?? ''))) return { body: gunzipSync(obj.data), headers: common };
      Object.assign(common, { 'content-encoding': 'gzip' });
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(String(headers['range'] ?? ''));
    if (range) {
      const from = Number(range[1]);
      const to = range[2] ? Math.min(Number(range[2]), obj.data.length - 1) : obj.data.length - 1;
      if (from >= obj.data.length) throw new ApiError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');
      return {
        status: 206,
        body: obj.data.subarray(from, to + 1),
        headers: { ...common, 'content-range': `bytes ${from}-${to}/${obj.data.length}` },
      };
    }
    return { body: obj.data, headers: common };
  };

  const getOrDownload = {
    names: ['storage.objects.get', 'storage.objects.download'],
    pick: (q: URLSearchParams) => (q.get('alt') === 'media' ? 'storage.objects.download' : 'storage.objects.get'),
  };
  router.add('GET', '/storage/v1/b/:bucket/o/:object', getOrDownload, (ctx) => {
    if (ctx.query.get('alt') === 'media') return download(ctx);
    return { json: objectJson(deps, find(ctx.params['bucket']!, ctx.params['object']!, ctx.query, 'storage.objects.get')) };
  });

  router.add('GET', '/download/storage/v1/b/:bucket/o/:object', 'storage.objects.download', download);

  router.add('GET', '/storage/v1/b/:bucket/o', 'storage.objects.list', ({ params, query }) => {
    const bucket = requireBucket(state, params['bucket']!);
    requirePermission(bucket, 'storage.objects.list');
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter');
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    const names = [...state.objects.values()].filter((o) => o.bucket === bucket.name && o.name.startsWith(prefix));
    for (const o of names.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const cut = delimiter ? o.name.indexOf(delimiter, prefix.length) : -1;
      if (delimiter && cut >= 0) prefixes.add(o.name.slice(0, cut + delimiter.length));
      else items.push(o);
    }
    const max = Number(query.get('maxResults') ?? 1000) || 1000;
    const offset = Number(query.get('pageToken') ?? 0) || 0;
    const pageItems = items.slice(offset, offset + max);
    return {
      json: {
        kind: 'storage#objects',
        ...(pageItems.length > 0 ? { items: pageItems.map((o) => objectJson(deps, o)) } : {}),
        ...(prefixes.size > 0 ? { prefixes: [...prefixes] } : {}),
        ...(offset + max < items.length ? { nextPageToken: String(offset + max) } : {}),
      },
    };
  });

  router.add('DELETE', '/storage/v1/b/:bucket/o/:object', 'storage.objects.delete', ({ params, query }) => {
    const obj = find(params['bucket']!, params['object']!, query, 'storage.objects.delete');
    state.objects.delete(`${obj.bucket}/${obj.name}`);
    return { status: 204 };
  });
}
