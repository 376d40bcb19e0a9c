// One byte range of one remote file, written into an open file at its offset (docs/vm-script.md, Data disks):
// redirects followed by hand (an Authorization header never goes to another origin, as huggingface_hub does for
// Hugging Face's CDN), transient failures (5xx, 429, 408, a connection reset or cut short) retried from the byte
// reached, with backoff; a request that receives no bytes for the stall timeout fails at once.
import type { FileHandle } from 'node:fs/promises';

/** A failure of one request; `transient` ones are retried. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** No bytes for the stall timeout. */
export class StallError extends Error {
  constructor(readonly seconds: number) {
    super(`no bytes received for ${seconds} s`);
    this.name = 'StallError';
  }
}

export interface Transfer {
  fetch: typeof fetch;
  /** Aborting stops every request (its reason is thrown). */
  signal: AbortSignal;
  stallMs: number;
  /** Tries per byte range, the first included; default 5. */
  attempts?: number;
  /** The wait before try `n` (2, 3, …); default 0.5 s × 2^(n-2), at most 8 s. */
  backoffMs?: (attempt: number) => number;
  /** Bytes written, as they are. */
  onBytes?: (n: number) => void;
  log?: (text: string) => void;
}

export interface Remote {
  url: string;
  /** Headers of every request (fresh: a token may have expired); `authorization` is dropped off-origin. */
  headers: () => Promise<Record<string, string>>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

function transientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The text of a failed response, short: Cloud Storage's `error.message`, Hugging Face's `X-Error-Message`, else HTTP N. */
async function failureText(res: Response): Promise<string> {
  const header = res.headers.get('x-error-message');
  const body = await res.text().catch(() => '');
  let detail = header ?? '';
  if (!detail) {
    try {
      const json = JSON.parse(body) as { error?: { message?: unknown } | string };
      const m = typeof json.error === 'string' ? json.error : json.error?.message;
      if (typeof m === 'string') detail = m;
    } catch {
      detail = '';
    }
  }
  detail = detail.replace(/\s+/g, ' ').slice(0, 200);
  return `HTTP ${res.status}${detail ? `: ${detail}` : ''}`;
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: NodeJS.ErrnoException | undefined = err.cause instanceof Error ? err.cause : undefined;
  const code = cause?.code;
  return cause ? `${cause.message}${code && !cause.message.includes(code) ? ` (${code})` : ''}` : err.message;
}

/** GETs `remote` with `headers`, following redirects; `authorization` stays behind when one leaves the origin. */
export async function openRemote(t: Transfer, remote: Remote, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  let url = remote.url;
  let sent = { ...(await remote.headers()), ...headers };
  for (let hop = 0; ; hop++) {
    const res = await t.fetch(url, { headers: sent, redirect: 'manual', signal });
    if (!REDIRECTS.has(res.status)) return res;
    const location = res.headers.get('location');
    await res.body?.cancel().catch(() => undefined);
    if (!location) throw new DownloadError(`HTTP ${res.status} without a Location`, false);
    if (hop >= MAX_REDIRECTS) throw new DownloadError(`more than ${MAX_REDIRECTS} redirects`, false);
    const next = new URL(location, url);
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new DownloadError(`a redirect to ${next.protocol} URL`, false);
    if (next.origin !== new URL(url).origin) {
      sent = Object.fromEntries(Object.entries(sent).filter(([k]) => k.toLowerCase() !== 'authorization'));
    }
    url = next.toString();
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

/**
 * Downloads bytes `from`..`to` (inclusive) of `remote`, a file of `size` bytes, into `fh` at the same offsets.
 * Resolves once every byte is written; throws a DownloadError (not transient, or out of tries), a StallError, or
 * the transfer's abort reason.
 */
export async function fetchRange(t: Transfer, remote: Remote, fh: FileHandle, size: number, from: number, to: number): Promise<void> {
  const state = { pos: from };
  const attempts = t.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await fetchOnce(t, remote, fh, size, to, state);
      return;
    } catch (err) {
      if (t.signal.aborted) throw t.signal.reason;
      if (!(err instanceof DownloadError) || !err.transient || attempt >= attempts) throw err;
      const wait = t.backoffMs ? t.backoffMs(attempt + 1) : Math.min(8000, 500 * 2 ** (attempt - 1));
      t.log?.(`${err.message}; trying again from byte ${state.pos} in ${wait} ms (${attempt + 1}/${attempts})`);
      await new Promise<void>((resolve) => {
        const done = () => (clearTimeout(timer), t.signal.removeEventListener('abort', done), resolve());
        const timer = setTimeout(done, wait);
        t.signal.addEventListener('abort', done, { once: true });
      });
      if (t.signal.aborted) throw t.signal.reason;
    }
  }
}

async function fetchOnce(t: Transfer, remote: Remote, fh: FileHandle, size: number, to: number, state: { pos: number }): Promise<void> {
  const ac = new AbortController();
  // Aborting the request is not always enough to end a body read already waiting: the reader is cancelled too.
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const end = (reason: unknown) => {
    ac.abort(reason);
    reader?.cancel(reason).catch(() => undefined);
  };
  const onAbort = () => end(t.signal.reason);
  t.signal.addEventListener('abort', onAbort, { once: true });
  let stalled = false;
  let timer = setTimeout(stall, t.stallMs);
  function stall() {
    stalled = true;
    end(new StallError(Math.round(t.stallMs / 1000)));
  }
  const alive = () => {
    clearTimeout(timer);
    timer = setTimeout(stall, t.stallMs);
  };
  try {
    const res = await openRemote(t, remote, { range: `bytes=${state.pos}-${to}`, 'accept-encoding': 'identity' }, ac.signal);
    alive();
    if (res.status === 200) {
      // The whole file, Range ignored: fine when the whole file is what was asked for.
      if (state.pos !== 0 || to !== size - 1) {
        await res.body?.cancel().catch(() => undefined);
        throw new DownloadError(`the server ignored the Range header (HTTP 200 to bytes=${state.pos}-${to})`, false);
      }
    } else if (res.status === 206) {
      const start = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!start || Number(start[1]) !== state.pos) {
        await res.body?.cancel().catch(() => undefined);
        throw new DownloadError(
          `the server answered another range (${res.headers.get('content-range') ?? 'no Content-Range'}) to bytes=${state.pos}-${to}`,
          false,
        );
      }
      if (start[3] !== '*' && Number(start[3]) !== size) {
        await res.body?.cancel().catch(() => undefined);
        throw new DownloadError(`the file has ${start[3]} bytes, the listing said ${size} (the source changed since preflight?)`, false);
      }
    } else if (res.status === 416) {
      await res.body?.cancel().catch(() => undefined);
      throw new DownloadError(`the file is shorter than the ${size} bytes listed (HTTP 416; the source changed since preflight?)`, false);
    } else {
      const text = await failureText(res);
      const hint =
        res.status === 404 ? ' (the source changed since preflight?)' : res.status === 401 || res.status === 403 ? ' (access denied)' : '';
      throw new DownloadError(`${text}${hint}`, transientStatus(res.status));
    }
    const encoding = res.headers.get('content-encoding');
    if (encoding && encoding !== 'identity') {
      await res.body?.cancel().catch(() => undefined);
      throw new DownloadError(
        `the file is served with Content-Encoding: ${encoding}; a data disk takes files as stored, uncompressed in transit`,
        false,
      );
    }
    if (!res.body) throw new DownloadError('an answer without a body', true);
    reader = res.body.getReader();
    if (ac.signal.aborted) throw ac.signal.reason;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      alive();
      if (state.pos + value.length > to + 1) {
        await reader.cancel().catch(() => undefined);
        throw new DownloadError(`more bytes than the ${size} listed (the source changed since preflight?)`, false);
      }
      try {
        await writeAll(fh, value, state.pos);
      } catch (err) {
        throw new DownloadError(`writing to the disk failed: ${causeText(err)}`, false);
      }
      state.pos += value.length;
      t.onBytes?.(value.length);
    }
    if (state.pos !== to + 1) throw new DownloadError(`the connection ended at byte ${state.pos}, before byte ${to + 1}`, true);
  } catch (err) {
    if (stalled) throw new StallError(Math.round(t.stallMs / 1000));
    if (t.signal.aborted) throw t.signal.reason;
    if (err instanceof DownloadError) throw err;
    throw new DownloadError(causeText(err), true);
  } finally {
    clearTimeout(timer);
    t.signal.removeEventListener('abort', onAbort);
  }
}
