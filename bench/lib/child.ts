// Runs the built CLI (or node itself) as a child process and times it from spawn to exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = 'bin/gke-disk-image-builder.js';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Spawn to exit, ms. */
  wallMs: number;
  stdout: string;
  stderr: string;
}

/** A minimal environment: nothing from the caller's gcloud configuration or CI leaks into a run. */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

export interface Spawned {
  child: ChildProcess;
  /** Date.now() just before the spawn. */
  startedAt: number;
  done: Promise<ChildRun>;
}

export function spawnNode(nodeArgs: string[], env: NodeJS.ProcessEnv): Spawned {
  let stdout = '';
  let stderr = '';
  const startedAt = Date.now();
  const t0 = performance.now();
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.setEncoding('utf8').on('data', (d: string) => void (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
  const done = new Promise<ChildRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      // Let the pipes drain before handing back the output.
      const finish = () => resolve({ code, signal, wallMs, stdout, stderr });
      if (child.stdout.readableEnded && child.stderr.readableEnded) finish();
      else child.once('close', finish);
    });
  });
  return { child, startedAt, done };
}

export const runNode = (nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<ChildRun> => spawnNode(nodeArgs, env).done;
