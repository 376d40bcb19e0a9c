// The agent's run (docs/vm-script.md): reads its parameters, builds or verifies, and always ends by reporting the
// outcome — `succeeded`, or `failed` with the reason — on the console and in guest attributes, whatever happened:
// an error, SIGTERM/SIGINT, the console closing or the script runner going away.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MD, type VmMode } from '../contract.js';
import { build } from './build.js';
import { buildDataDisk } from './data-build.js';
import type { AgentEnv, AgentOptions, Ctx } from './context.js';
import { errorText, Fail, Step } from './errors.js';
import { Metadata } from './metadata.js';
import { readBuildParams, readDataParams, readMode, readVerifyParams } from './params.js';
import { Reporter, type LineSink } from './report.js';
import { realSystem, type System } from './system.js';
import { verify } from './verify.js';

export interface AgentRun {
  /** `host[:port]` of the metadata server. */
  mdHost: string;
  env: AgentEnv;
  opts?: AgentOptions;
  /** The version stamped into gdib.json. */
  version: string;
  /** The bootstrap already reported state=running and phase=installing. */
  bootstrapped?: boolean;
  sys?: System;
  /** The metadata server's transport (a fake one in unit tests). */
  fetch?: typeof fetch;
  /** A data disk's transport to its sources (a fake one in unit tests); default the global fetch. */
  http?: typeof fetch;
  sink?: LineSink;
  /** Aborting interrupts the run as SIGTERM would (its reason: the Fail to report). */
  signal?: AbortSignal;
  /** Also write status lines to /dev/console (on the VM). */
  console?: boolean;
  /** What the agent is doing, kept up to date (for the caller's interruption message). */
  step?: Step;
}

function validPath(name: string, value: string): void {
  // These paths end up in containerd's TOML config and in mount options: keep them plain.
  if (!/^\/[A-Za-z0-9._/@+-]*$/.test(value) || value.endsWith('/')) {
    throw new Fail(`${name} must be a plain absolute path (letters, digits and ._/@+-), got: ${value}`);
  }
}

/** Runs the agent; resolves with its exit status once the outcome is reported. */
export async function runAgent(run: AgentRun): Promise<{ code: number; mode?: VmMode; error?: string }> {
  const abort = new AbortController();
  const step = run.step ?? new Step();
  const md = new Metadata(run.mdHost, run.fetch);
  let nonce: string | undefined;
  try {
    const value = await md.attribute(MD.statusNonce, '');
    if (/^[A-Za-z0-9_-]{8,128}$/.test(value)) nonce = value;
  } catch {
    nonce = undefined;
  }
  const report = new Reporter({
    mdHost: run.mdHost,
    ...(nonce ? { nonce } : {}),
    ...(run.sink ? { sink: run.sink } : {}),
    ...(run.fetch ? { fetch: run.fetch } : {}),
    console: run.console ?? false,
    onConsoleClosed: () => abort.abort(new Fail(`the console closed (the script runner went away) during: ${step.current}`)),
  });
  const onOuter = () => abort.abort(run.signal?.reason);
  run.signal?.addEventListener('abort', onOuter, { once: true });
  const ctx: Ctx = {
    sys: run.sys ?? realSystem,
    report,
    md,
    env: run.env,
    opts: run.opts ?? {},
    step,
    signal: abort.signal,
    logs: join(run.env.workDir, 'logs'),
    ...(run.http ? { http: run.http } : {}),
  };
  let mode: VmMode | undefined;
  try {
    if (!run.bootstrapped) {
      await report.status('state', 'running');
      await report.status('phase', 'installing');
    }
    validPath('GDIB_WORK_DIR', run.env.workDir);
    validPath('GDIB_MOUNT_DIR', run.env.mountDir);
    mkdirSync(ctx.logs, { recursive: true, mode: 0o700 });
    mode = await readMode(md);
    const data = mode === 'build' ? await readDataParams(md) : undefined;
    if (data) {
      report.log(`run ${data.runId}: a data disk from ${data.plan.sources.length} source(s)`);
      await buildDataDisk(ctx, data, run.version);
    } else if (mode === 'build') {
      const params = await readBuildParams(md);
      report.log(
        `run ${params.runId}: ${params.images.length} image(s), platform ${params.platform}, pull auth ${params.auth}, checksums ${params.storeChecksums}, data disk ${params.dataDisk}`,
      );
      if (params.registrySecrets.size > 0) report.log(`registry secrets for: ${[...params.registrySecrets.keys()].join(' ')}`);
      await build(ctx, params, run.version);
    } else {
      await verify(ctx, await readVerifyParams(md));
    }
    // Done, the disk unmounted: an interruption from here on does not turn success into failure.
    run.signal?.removeEventListener('abort', onOuter);
    await report.status('phase', 'done');
    await report.status('state', 'succeeded');
    return { code: 0, mode };
  } catch (err) {
    run.signal?.removeEventListener('abort', onOuter);
    const reason = abort.signal.aborted && abort.signal.reason instanceof Fail ? abort.signal.reason : err;
    const message = reason instanceof Fail ? reason.message : `${step.current} failed: ${errorText(reason)}`;
    const code = reason instanceof Fail ? reason.exitCode : 1;
    await report.status('error', message);
    await report.status('state', 'failed');
    return { code: code === 0 ? 1 : code, ...(mode ? { mode } : {}), error: message };
  }
}

/** The abort reason of a signal, as the run reports it. */
export function interrupted(signal: 'SIGTERM' | 'SIGINT', step: string): Fail {
  return new Fail(`interrupted by ${signal} during: ${step}`, signal === 'SIGTERM' ? 143 : 130);
}
