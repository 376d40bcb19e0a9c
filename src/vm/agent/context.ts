// What every part of the agent works with: the system seam, the reporter, the metadata server, the seams of
// docs/architecture.md (Test seams) and the typed options the benchmark passes in-process.
import type { Reporter } from './report.js';
import type { Metadata } from './metadata.js';
import type { Step } from './errors.js';
import type { System } from './system.js';

export interface AgentEnv {
  /** The data disk; default `/dev/disk/by-id/google-<device name>`. */
  device?: string;
  workDir: string;
  mountDir: string;
  /** containerd's registry hosts dir; default `<work>/certs.d`. */
  hostsDir?: string;
  secretManagerEndpoint: string;
  /** Cloud Storage's JSON API base URL (data disks); default `https://storage.googleapis.com`. */
  storageEndpoint?: string;
  /** Hugging Face's base URL (data disks); default `https://huggingface.co`. */
  hfEndpoint?: string;
  /** PATH for the commands the agent runs. */
  path: string;
}

/**
 * Settings the tests give the agent to exercise its behaviour at a small scale (one pull at a time, the journal
 * zeroed, tiny ranged parts) and that the benchmarks once toggled (docs/benchmarks.md). Never read from the
 * environment: only a test (test/rig/agent-bundle.ts, or in-process) sets them.
 */
export interface AgentOptions {
  /** Images pulled at once; default: one per CPU, at most 4, at most one per GiB of memory. */
  pullJobs?: number;
  /** Workers hashing one snapshot; default one per CPU. */
  checksumJobs?: number;
  /** mkfs leaves the inode tables unwritten (and the mount says noinit_itable); default true. */
  lazyItable?: boolean;
  /** mkfs leaves the journal unwritten; default true. */
  lazyJournal?: boolean;
  /** A data disk's requests at once; default 8. */
  dataJobs?: number;
  /** A data disk's files of at least this many bytes are fetched in ranged parts; default 64 MiB. */
  dataRangedMin?: number;
  /** The size of those parts; default 32 MiB. */
  dataPartSize?: number;
  /** The wait before a failed request's try n (2, 3, …), in ms; default 0.5 s × 2^(n-2), at most 8 s. */
  dataBackoffMs?: (attempt: number) => number;
}

export interface Ctx {
  sys: System;
  report: Reporter;
  md: Metadata;
  env: AgentEnv;
  opts: AgentOptions;
  step: Step;
  /** Aborted on SIGTERM/SIGINT or when the console goes away; its reason is the Fail to report. */
  signal: AbortSignal;
  /** `<work>/logs` */
  logs: string;
  /** The transport of a data disk's listings and downloads; default the global fetch (a fake one in unit tests). */
  http?: typeof fetch;
}

/** Throws the abort's reason when the run was interrupted. */
export function checkAborted(ctx: Ctx): void {
  if (ctx.signal.aborted) throw ctx.signal.reason;
}

/** Waits `ms`, or less when the run is interrupted. */
export function pause(ctx: Ctx, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (ctx.signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      ctx.signal.removeEventListener('abort', done);
      resolve();
    }
    ctx.signal.addEventListener('abort', done, { once: true });
  });
}

/** The last non-blank line of a text, cut to `max` characters. */
export function lastLine(text: string, max = 300): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return (lines.at(-1) ?? '').slice(0, max);
}
