// Pulling (docs/vm-script.md, Build): each image with `ctr images pull`, which fetches its layers and unpacks each
// once, straight into snapshots/<N>/fs on the data disk. Up to `jobs` images at once, the first alone; images are
// recorded in list order whatever order their pulls end in. A pull that receives no bytes of its own blobs for the
// stall timeout fails, naming the image and the registry.
import { createWriteStream, readdirSync, readFileSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { checkAborted, type Ctx } from './context.js';
import type { Containerd } from './containerd.js';
import { credentialsFor, proxiedHostsDir, Scrubber, type Credentials } from './credentials.js';
import { fsUsage } from './disk.js';
import { Fail, humanBytes } from './errors.js';
import type { BuildParams } from './params.js';

/** The reference containerd needs: docker.io and library/ made explicit, :latest when untagged. */
export function normalizeRef(ref: string): string {
  let out = ref;
  const first = out.split('/')[0] ?? '';
  if (!out.includes('/') || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) out = `docker.io/${out}`;
  const host = out.split('/')[0];
  const rest = out.slice((host ?? '').length + 1);
  if ((host === 'docker.io' || host === 'index.docker.io') && !rest.includes('/')) out = `docker.io/library/${rest}`;
  const name = out.split('/').at(-1) ?? '';
  if (!name.includes(':') && !name.includes('@')) out = `${out}:latest`;
  return out;
}

export function hostOf(normalized: string): string {
  return normalized.split('/')[0] ?? '';
}

/** The repository of a normalized reference: without its tag or digest (a registry's port stays). */
export function repositoryOf(normalized: string): string {
  let name = normalized.split('@')[0] ?? normalized;
  const last = name.split('/').at(-1) ?? '';
  if (last.includes(':')) name = name.slice(0, name.lastIndexOf(':'));
  return name;
}

/** ctr's output lines a log keeps: no debug lines, no progress table. */
export function keepCtrLine(line: string): boolean {
  return !/^time="[^"]*" level=debug |elapsed: [0-9.]+ ?s|\|.*\|/.test(line);
}

/** What ctr says it unpacked: the image's target digest and its top chain ID. */
export function parsePullOutput(lines: readonly string[]): { target?: string; chain?: string } {
  let target: string | undefined;
  let chain: string | undefined;
  for (const line of lines) {
    const t = /^unpacking \S+ (sha256:[0-9a-f]{64})/.exec(line);
    if (t) target = t[1];
    const c = /^image chain ID: (sha256:[0-9a-f]{64})/.exec(line);
    if (c) chain = c[1];
  }
  return { target, chain };
}

export interface PullFailureFacts {
  ref: string;
  platform: string;
  /** ctr's output (scrubbed). */
  lines: readonly string[];
  creds?: Credentials;
  mountDir: string;
  dataDiskSize: number;
  bootDiskAvail: number;
}

/** The one-line reason of a failed pull: what the user can do about it (docs/vm-script.md, Build). */
export function pullFailure(f: PullFailureFacts): string {
  const text = f.lines.join('\n');
  const nonBlank = f.lines.filter((l) => l.trim() !== '');
  const detail = ([...nonBlank].reverse().find((l) => l.startsWith('ctr: ')) ?? nonBlank.at(-1) ?? '').replace(/^ctr: /, '');
  const nospace = [...nonBlank].reverse().find((l) => /no space left on device/i.test(l));
  if (nospace !== undefined) {
    if (/failed to extract layer/.test(nospace) || nospace.includes(`${f.mountDir}/`) || nospace.includes('/tmpmounts/')) {
      return `the data disk (${humanBytes(f.dataDiskSize)}) is full: unpacking ${f.ref} needs more space; raise --disk-size-gb`;
    }
    return `the VM's boot disk is full while downloading ${f.ref} (${humanBytes(f.bootDiskAvail)} free): ${detail}`;
  }
  if (/unauthorized|forbidden|denied|40[13] /i.test(text)) {
    if (f.creds?.source.kind === 'secret') {
      return `the registry refused ${f.ref} with the credentials of secret ${f.creds.source.name} (${detail}): check the user name and password in the secret`;
    }
    if (f.creds?.source.kind === 'token') {
      return `the registry refused ${f.ref} with the VM's service-account token (${detail}): give that service account read access to the image`;
    }
    return `the registry refused ${f.ref} (${detail}): for a private image use --image-pull-auth=ServiceAccountToken or Auto and give the VM's service account read access`;
  }
  if (/no match for platform/i.test(text)) return `image ${f.ref} has no ${f.platform} variant (--platform): ${detail}`;
  if (/not found/i.test(text)) return `image ${f.ref} not found: ${detail}`;
  return `pulling ${f.ref} failed: ${detail}`;
}

/** The blob a ctr debug line says it starts to fetch (`level=debug msg=fetch digest=sha256:…`), if any. */
export function fetchedDigest(line: string): string | undefined {
  if (!/level=debug msg=(?:fetch|"fetch") /.test(line)) return undefined;
  return /\bdigest="?(sha256:[0-9a-f]{64})/.exec(line)?.[1];
}

/**
 * Bytes of the blobs `digests` in containerd's content store, complete or being downloaded (`ingest/<key>/data`,
 * its blob named in `ingest/<key>/ref`): what one pull has received so far. The store is shared by the pulls that
 * run at once; counting only a pull's own blobs keeps one pull's progress from hiding another's stall (a blob two
 * pulls need is downloaded once, and counts for both).
 */
export function pullBytes(contentDir: string, digests: ReadonlySet<string>): number {
  let total = 0;
  const pending = new Set(digests);
  for (const d of digests) {
    try {
      total += statSync(join(contentDir, 'blobs', 'sha256', d.slice('sha256:'.length))).size;
      pending.delete(d);
    } catch {
      // not complete yet
    }
  }
  if (pending.size === 0) return total;
  let ingests: string[];
  try {
    ingests = readdirSync(join(contentDir, 'ingest'));
  } catch {
    return total;
  }
  for (const name of ingests) {
    try {
      const ref = readFileSync(join(contentDir, 'ingest', name, 'ref'), 'utf8');
      const digest = /sha256:[0-9a-f]{64}/.exec(ref)?.[0];
      if (digest !== undefined && pending.has(digest)) total += statSync(join(contentDir, 'ingest', name, 'data')).size;
    } catch {
      // gone meanwhile (just completed: counted at the next look)
    }
  }
  return total;
}

export interface Pulled {
  target: string;
  chain: string;
}

export interface PullContext {
  ctx: Ctx;
  params: BuildParams;
  ctrd: Containerd;
  hostsDir: string;
  scrubber: Scrubber;
  /** Run before the pull itself, with the pull's credentials (a reused disk's placeholders). */
  beforePull?: (i: number, ref: string, creds: Credentials | undefined, hostsDir: string) => Promise<void>;
  /** How often the stall watch looks at the content store; default min(5 s, a third of the timeout). */
  stallPollMs?: number;
}

/** Pulls image `i` (1-based) of `n`. Stops (and fails) when `stop` aborts. */
export async function pullImage(pc: PullContext, i: number, n: number, ref: string, stop: AbortSignal): Promise<Pulled> {
  const { ctx, params } = pc;
  const full = normalizeRef(ref);
  const host = hostOf(full);
  ctx.step.set(`pulling ${ref}`);
  await ctx.report.status('phase', 'pulling');
  await ctx.report.status('progress', `image ${i}/${n} ${ref}: pulling`);
  checkAborted(ctx);
  const creds = await credentialsFor(ctx, host, ref, params.auth, params.registrySecrets);
  if (creds) pc.scrubber.add(creds.password, creds.username);
  const auth = creds ? await proxiedHostsDir(ctx, pc.hostsDir, host, `pull-${i}`, creds) : undefined;
  try {
    const hostsDir = auth?.dir ?? pc.hostsDir;
    if (pc.beforePull) await pc.beforePull(i, ref, creds, hostsDir);
    ctx.step.set(`pulling ${ref}`);
    const how =
      creds?.source.kind === 'secret'
        ? ` with the credentials of secret ${creds.source.name}`
        : creds
          ? ' with a fresh service-account token'
          : '';
    ctx.report.log(`pulling ${i}/${n} ${ref}${how}`);
    return await runPull(pc, i, n, ref, full, creds, hostsDir, stop);
  } finally {
    await auth?.close();
  }
}

async function runPull(
  pc: PullContext,
  i: number,
  n: number,
  ref: string,
  full: string,
  creds: Credentials | undefined,
  hostsDir: string,
  stop: AbortSignal,
): Promise<Pulled> {
  const { ctx, params, ctrd } = pc;
  const started = Date.now();
  const lines: string[] = [];
  const log: WriteStream = createWriteStream(join(ctx.logs, `pull-${i}.log`));
  let phase: 'pulling' | 'unpacking' = 'pulling';
  /** The blobs this pull fetches (its stall watch counts only theirs). */
  const digests = new Set<string>();
  const args = [
    '--debug',
    'images',
    'pull',
    '--hosts-dir',
    hostsDir,
    '--platform',
    params.platform,
    '--snapshotter',
    'overlayfs',
    '--print-chainid',
    '--',
    full,
  ];
  const proc = ctx.sys.spawn('ctr', ctrd.ctrArgs(args), {
    env: { PATH: ctx.env.path },
    onLine: (raw) => {
      const fetching = fetchedDigest(raw);
      if (fetching !== undefined) digests.add(fetching);
      if (!keepCtrLine(raw)) return;
      const line = pc.scrubber.scrub(raw);
      lines.push(line);
      if (lines.length > 400) lines.splice(0, lines.length - 200);
      log.write(`${line}\n`);
      if (phase === 'pulling' && line.startsWith('unpacking ')) {
        phase = 'unpacking';
        ctx.step.set(`unpacking ${ref}`);
        void ctx.report.status('phase', 'unpacking');
      }
    },
  });
  // The stall watch and the progress lines.
  const stallMs = params.pullStallTimeoutS * 1000;
  const poll = pc.stallPollMs ?? Math.max(50, Math.min(5000, Math.floor(stallMs / 3)));
  let bytes = pullBytes(ctrd.contentDir, digests);
  let lastBytesAt = Date.now();
  let lastProgress = Date.now();
  let stalled = false;
  const onStop = () => proc.kill('SIGTERM');
  stop.addEventListener('abort', onStop, { once: true });
  const timer = setInterval(() => {
    const now = Date.now();
    const b = pullBytes(ctrd.contentDir, digests);
    if (b !== bytes) {
      bytes = b;
      lastBytesAt = now;
    } else if (phase === 'pulling' && now - lastBytesAt >= stallMs && !stalled) {
      stalled = true;
      proc.kill('SIGTERM');
    }
    if (now - lastProgress >= 15_000) {
      lastProgress = now;
      void ctx.report.status(
        'progress',
        `image ${i}/${n} ${ref}: ${phase} for ${Math.round((now - started) / 1000)} s, ${humanBytes(b)} downloaded, ${humanBytes(fsUsage(ctx.env.mountDir).used)} on the data disk`,
      );
    }
  }, poll);
  let code: number;
  try {
    code = await proc.exited;
  } finally {
    clearInterval(timer);
    stop.removeEventListener('abort', onStop);
    await new Promise((r) => log.end(r));
  }
  checkAborted(ctx);
  if (stop.aborted) throw new Fail(`pulling ${ref} was stopped`);
  if (stalled) {
    throw new Fail(
      `pulling ${ref} stalled: no bytes received from registry ${hostOf(full)} for ${params.pullStallTimeoutS} s (--pull-stall-timeout)`,
    );
  }
  if (code !== 0) {
    for (const line of lines.filter((l) => l.trim() !== '').slice(-20)) ctx.report.log(`ctr: ${line}`);
    const disk = fsUsage(ctx.env.mountDir);
    throw new Fail(
      pullFailure({
        ref,
        platform: params.platform,
        lines,
        ...(creds ? { creds } : {}),
        mountDir: ctx.env.mountDir,
        dataDiskSize: disk.size,
        bootDiskAvail: fsUsage(ctx.env.workDir).avail,
      }),
    );
  }
  const { target, chain } = parsePullOutput(lines);
  if (!target || !chain) throw new Fail(`ctr pulled ${ref} but did not report what it unpacked`);
  ctx.report.log(`pulled ${i}/${n} ${ref} in ${Math.round((Date.now() - started) / 1000)} s (${target})`);
  return { target, chain };
}

/** Images pulled at once: one per CPU, at most 4 (they share the disk and the network), at most one per GiB. */
export function chooseJobs(cpus: number, memBytes: number): number {
  return Math.max(1, Math.min(cpus, 4, Math.floor(memBytes / 1073741824)));
}

/**
 * Pulls every image, up to `jobs` at once, the first alone (containerd 1.6 unpacks a layer two pulls need at the
 * same time twice, and the images of a build mostly share their base with the first). `record` is called for image
 * i once it and every image before it are pulled. The first failure stops the other pulls and is thrown.
 */
export async function pullAll(
  ctx: Ctx,
  n: number,
  jobs: number,
  firstAlone: boolean,
  pull: (i: number, stop: AbortSignal) => Promise<Pulled>,
  record: (i: number, pulled: Pulled) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const results: ({ ok: Pulled } | { err: unknown } | undefined)[] = new Array<undefined>(n).fill(undefined);
  const running = new Set<Promise<void>>();
  let wake: () => void = () => undefined;
  let next = 0;
  let recorded = 0;
  let failure: unknown;
  try {
    while (recorded < n) {
      if (failure !== undefined) break;
      while (next < n && running.size < jobs && !(firstAlone && next === 1 && recorded < 1)) {
        const i = next++;
        const p: Promise<void> = pull(i + 1, stop.signal).then(
          (ok) => void (results[i] = { ok }),
          (err: unknown) => {
            results[i] = { err };
            failure ??= err;
            stop.abort();
          },
        );
        const tracked = p.finally(() => {
          running.delete(tracked);
          wake();
        });
        running.add(tracked);
      }
      const r = results[recorded];
      if (r !== undefined && 'ok' in r) {
        await record(recorded + 1, r.ok);
        recorded++;
        continue;
      }
      if (running.size === 0 && r === undefined) throw new Fail(`pulling image ${recorded + 1} ended without a result`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } catch (err) {
    failure ??= err;
    stop.abort();
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    await Promise.allSettled([...running]);
  }
  if (failure !== undefined) {
    // An interruption wins over the failures it caused.
    if (ctx.signal.aborted) throw ctx.signal.reason as Error;
    throw failure as Error;
  }
}
