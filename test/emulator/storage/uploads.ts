/**
 * Uploads: POST /upload/storage/v1/b/{bucket}/o with uploadType=media, multipart or resumable,
 * and the PUTs of a resumable session.
 *
 * A resumable session URI is its own credential (GCS needs no token on it, and storage v7 sends
 * none there). Chunks carry `Content-Range: bytes a-b/total` (total `*` while unknown); a chunk
 * that leaves the upload incomplete answers 308 with `Range: bytes=0-N`; `bytes a-*\/*` streams
 * the rest in one request, final when the request ends; `bytes *\/total` asks the status.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { Reply, Router } from '../router.js';
import { checkWrite, objectJson, writeObject, type ObjectDeps } from './objects.js';

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  metadata?: Record<string, string>;
  contentEncoding?: string;
  data: Buffer;
  done?: Record<string, unknown>;
}

type Meta = { name?: string; contentType?: string; metadata?: Record<string, string>; contentEncoding?: string };

export function registerUploads(router: Router, deps: ObjectDeps): void {
  const sessions = new Map<string, Session>();

  router.add('POST', '/upload/storage/v1/b/:bucket/o', 'storage.objects.insert', ({ params, query, headers, raw, body }) => {
    const bucket = params['bucket']!;
    const type = query.get('uploadType') ?? 'media';
    const headerType = String(headers['content-type'] ?? 'application/octet-stream');
    if (type === 'media') {
      const name = query.get('name') ?? '';
      checkWrite(deps, bucket, name, query);
      const encoding = query.get('contentEncoding') ?? undefined;
      return { json: objectJson(deps, writeObject(deps, bucket, name, raw, headerType, undefined, encoding)) };
    }
    if (type === 'multipart') {
      const { meta, data, dataType } = parseMultipart(headerType, raw);
      const name = query.get('name') ?? meta.name ?? '';
      checkWrite(deps, bucket, name, query);
      const contentType = meta.contentType ?? dataType ?? 'application/octet-stream';
      const obj = writeObject(deps, bucket, name, data, contentType, meta.metadata, meta.contentEncoding);
      return { json: objectJson(deps, obj) };
    }
    if (type === 'resumable') {
      const meta = (body ?? {}) as Meta;
      const name = query.get('name') ?? meta.name ?? '';
      checkWrite(deps, bucket, name, query);
      const id = randomBytes(16).toString('hex');
      const contentType = String(headers['x-upload-content-type'] ?? meta.contentType ?? 'application/octet-stream');
      sessions.set(id, {
        bucket,
        name,
        contentType,
        ...(meta.metadata ? { metadata: meta.metadata } : {}),
        ...(meta.contentEncoding ? { contentEncoding: meta.contentEncoding } : {}),
        data: Buffer.alloc(0),
      });
      const location = `${deps.host()}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      return { headers: { location, 'x-guploader-uploadid': id }, json: {} };
    }
    throw new ApiError(400, 'invalid', `Invalid upload type: ${type}`);
  });

  router.add(
    'PUT',
    '/upload/storage/v1/b/:bucket/o',
    'storage.objects.uploadChunk',
    ({ query, headers, raw }): Reply => {
      const id = query.get('upload_id') ?? '';
      const session = sessions.get(id);
      if (!session) throw new ApiError(404, 'notFound', `No such upload session: ${id}`);
      if (session.done) return { json: session.done };
      const range = parseContentRange(String(headers['content-range'] ?? ''), raw.length);
      if (range.start !== undefined) {
        if (range.start > session.data.length)
          throw new ApiError(400, 'invalid', `Upload out of order: expected offset ${session.data.length}, got ${range.start}.`);
        const skip = session.data.length - range.start;
        session.data = Buffer.concat([session.data, raw.subarray(skip)]);
      }
      const complete = range.total === 'stream' || (range.total !== undefined && session.data.length >= range.total);
      if (!complete) {
        const received = session.data.length;
        return { status: 308, headers: received > 0 ? { range: `bytes=0-${received - 1}` } : {} };
      }
      if (typeof range.total === 'number' && session.data.length !== range.total) {
        throw new ApiError(400, 'invalid', `Upload size mismatch: declared ${range.total}, received ${session.data.length}.`);
      }
      const obj = writeObject(
        deps,
        session.bucket,
        session.name,
        session.data,
        session.contentType,
        session.metadata,
        session.contentEncoding,
      );
      session.done = objectJson(deps, obj);
      return { json: session.done };
    },
    { auth: false },
  );
}

/** start: where this request's bytes go (undefined for a status query); total: size, 'stream' or unknown. */
function parseContentRange(header: string, length: number): { start?: number; total?: number | 'stream' } {
  if (header === '') return { start: 0, total: length };
  const status = /^bytes \*\/(\d+|\*)$/.exec(header);
  if (status) return status[1] === '*' ? {} : { total: Number(status[1]) };
  const m = /^bytes (\d+)-(\d+|\*)\/(\d+|\*)$/.exec(header);
  if (!m) throw new ApiError(400, 'invalid', `Invalid Content-Range: ${header}`);
  const start = Number(m[1]);
  if (m[2] === '*') return { start, total: 'stream' };
  return m[3] === '*' ? { start } : { start, total: Number(m[3]) };
}

/** multipart/related: a JSON metadata part, then the data part. */
function parseMultipart(contentType: string, raw: Buffer): { meta: Meta; data: Buffer; dataType?: string } {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) throw new ApiError(400, 'invalid', 'Multipart upload without a boundary.');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = raw.indexOf(delimiter);
  while (at >= 0) {
    const next = raw.indexOf(delimiter, at + delimiter.length);
    if (next < 0) break;
    parts.push(raw.subarray(at + delimiter.length, next));
    at = next;
  }
  const parsed = parts.map((p) => {
    const headerEnd = p.indexOf('\r\n\r\n');
    const head = p.subarray(0, headerEnd).toString('utf8');
    let content = p.subarray(headerEnd + 4);
    if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
    return { type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim(), content };
  });
  if (parsed.length !== 2) throw new ApiError(400, 'invalid', `Multipart upload with ${parsed.length} parts; expected 2.`);
  let meta: Meta;
  try {
    meta = JSON.parse(parsed[0]!.content.toString('utf8')) as Meta;
  } catch {
    throw new ApiError(400, 'parseError', 'The metadata part is not valid JSON.');
  }
  return { meta, data: parsed[1]!.content, ...(parsed[1]!.type ? { dataType: parsed[1]!.type } : {}) };
}
