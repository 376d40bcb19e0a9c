// A fake system seam for the agent's unit tests: commands answer what a test scripts, long-running ones emit lines;
// every call is recorded. No process is started, no device touched, no root needed.
import { writeFileSync } from 'node:fs';
import type { Mount, Proc, RunOptions, RunResult, SpawnOptions, System } from '../../../src/vm/agent/system.js';

export interface Call {
  cmd: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export type RunHandler = (cmd: string, args: readonly string[], opts: RunOptions) => RunResult | undefined;
export type SpawnHandler = (
  cmd: string,
  args: readonly string[],
  opts: SpawnOptions,
) => { lines?: string[]; code?: number; hang?: boolean } | undefined;

export class FakeSystem implements System {
  readonly calls: Call[] = [];
  blockDevices = new Set<string>();
  mountTable: Mount[] = [];

  constructor(
    private readonly onRun: RunHandler = () => undefined,
    private readonly onSpawn: SpawnHandler = () => undefined,
  ) {}

  isBlockDevice(path: string): boolean {
    return this.blockDevices.has(path);
  }

  mounts(): Mount[] {
    return this.mountTable;
  }

  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ cmd, args, ...(opts.env ? { env: opts.env } : {}) });
    const res = this.onRun(cmd, args, opts) ?? { code: 0, stdout: '', stderr: '' };
    if (opts.stdoutFile) writeFileSync(opts.stdoutFile, res.stdout);
    return Promise.resolve(opts.stdoutFile ? { ...res, stdout: '' } : res);
  }

  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Proc {
    this.calls.push({ cmd, args, ...(opts.env ? { env: opts.env } : {}) });
    const plan = this.onSpawn(cmd, args, opts) ?? {};
    let finish: (code: number) => void = () => undefined;
    const exited = new Promise<number>((resolve) => (finish = resolve));
    setImmediate(() => {
      for (const l of plan.lines ?? []) opts.onLine?.(l);
      if (!plan.hang) finish(plan.code ?? 0);
    });
    return { pid: 4242, exited, kill: () => finish(143) };
  }
}
