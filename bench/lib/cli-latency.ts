// CLI latency (docs/benchmarks.md, section 1): wall time of the built CLI for --help, an invalid invocation and a build up
// to its first API request (and its first compute request, and the end of preflight), each beside `node -e 0` in the
// same rounds; and the requests of a whole build with a VM that succeeds at once.
import { serialLine } from '../../test/emulator/index.js';
import { baseEnv, BIN, runNode, spawnNode, type ChildRun } from './child.js';
import { BASE_ARGS, cliEnv, countBy, emulator, isCompute, kindOf, until, type Emulator } from './emulator.js';
import { summarize, type Summary } from './stats.js';

export interface LatencyKind {
  key: 'node' | 'help' | 'invalid' | 'first-request' | 'first-compute' | 'preflight-done';
  label: string;
  what: string;
  samples: number[];
  summary: Summary;
}

export interface FullBuild {
  samples: number[];
  summary: Summary;
  firstRequest: Summary;
  /** Requests of one build, by call (the last build). */
  calls: Record<string, number>;
  byKind: Record<string, number>;
}

export interface LatencyResult {
  runs: number;
  warmup: number;
  kinds: LatencyKind[];
  firstCalls: Record<string, number>;
  fullBuild: FullBuild;
}

const INVALID = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--container-image=nginx:1.27',
  '--image-name=Not_A_Valid_Name',
];
function expectExit(r: ChildRun, code: number, what: string): void {
  if (r.code !== code) throw new Error(`${what}: exit code ${r.code} (signal ${r.signal}), expected ${code}\n${r.stderr.slice(-2000)}`);
}

/** The VM is done as soon as it starts: a build then measures the CLI and the API round trips only. */
function instantVm(emu: Emulator): void {
  emu.vm.reset();
  emu.vm.script([
    {
      afterMs: 0,
      serial: serialLine('gdib: state=running') + serialLine('gdib: phase=done'),
      attributes: { 'gdib/state': 'running', 'gdib/phase': 'done' },
    },
    { afterMs: 0, serial: serialLine('gdib: state=succeeded'), attributes: { 'gdib/state': 'succeeded' } },
  ]);
}

export async function measureCliLatency(opts: { runs: number; fullBuilds: number; log: (s: string) => void }): Promise<LatencyResult> {
  const emu = await emulator();
  const env = baseEnv();
  const buildEnv = baseEnv(cliEnv(emu));
  let buildNo = 0;
  const firstCalls: Record<string, number> = {};
  // Taken from the same spawns as 'first-request', one sample per round.
  const later: Record<'first-compute' | 'preflight-done', number[]> = { 'first-compute': [], 'preflight-done': [] };
  // The same build, from a copy of the tool without the compact compute API description (as before it).
  /** Spawns a build and stops it at the end of its preflight; the requests it made, from its spawn. */
  const toPreflightEnd = async (bin: string) => {
    const before = emu.requests.length;
    const s = spawnNode([bin, ...BASE_ARGS, `--image-name=bench-first-${buildNo++}`], buildEnv);
    let exited = false;
    void s.done.then(() => (exited = true));
    // Preflight is over when the disk is asked for: the run is stopped there.
    const mine = () => emu.requests.slice(before);
    await until(() => mine().some((q) => q.call === 'disks.insert') || exited, 60_000, 'the end of preflight');
    s.child.kill('SIGKILL');
    const r = await s.done;
    const first = mine()[0];
    const compute = mine().find(isCompute);
    const disk = mine().find((q) => q.call === 'disks.insert');
    if (!first || !compute || !disk) throw new Error(`the build exited before its preflight was over: ${r.stderr}`);
    return { first, at: (q: { time: number }) => q.time - s.startedAt, compute, disk };
  };
  try {
    const one: Record<'node' | 'help' | 'invalid' | 'first-request', () => Promise<number>> = {
      node: async () => {
        const r = await runNode(['-e', '0'], env);
        expectExit(r, 0, 'node -e 0');
        return r.wallMs;
      },
      help: async () => {
        const r = await runNode([BIN, '--help'], env);
        expectExit(r, 0, '--help');
        if (!r.stdout.includes('--container-image')) throw new Error('--help printed no flags');
        return r.wallMs;
      },
      invalid: async () => {
        const r = await runNode([BIN, ...INVALID], env);
        expectExit(r, 2, 'invalid invocation');
        if (!r.stderr.includes('--image-name')) throw new Error(`the invalid invocation did not name --image-name: ${r.stderr}`);
        return r.wallMs;
      },
      'first-request': async () => {
        const { first, at, compute, disk } = await toPreflightEnd(BIN);
        firstCalls[first.call] = (firstCalls[first.call] ?? 0) + 1;
        later['first-compute'].push(at(compute));
        later['preflight-done'].push(at(disk));
        return at(first);
      },
    };
    const kinds: LatencyKind[] = [
      {
        key: 'node',
        label: '`node -e 0`',
        what: 'Node itself: process start and exit, nothing loaded (the floor)',
        samples: [],
        summary: undefined!,
      },
      {
        key: 'help',
        label: '`--help`',
        what: 'spawn to exit of `node bin/gke-disk-image-builder.js --help` (exit 0)',
        samples: [],
        summary: undefined!,
      },
      {
        key: 'invalid',
        label: 'invalid invocation',
        what: 'spawn to exit with every flag given and `--image-name=Not_A_Valid_Name` (exit 2, one line naming the flag)',
        samples: [],
        summary: undefined!,
      },
      {
        key: 'first-request',
        label: '`build` to first API request',
        what: 'spawn to the first request the emulator records (token, the first client loaded, the first preflight call)',
        samples: [],
        summary: undefined!,
      },
    ];
    const warmup = 2;
    const run = (key: LatencyKind['key']) => one[key as keyof typeof one]();
    // Warm-up (file cache, JIT of the emulator): the slow build start once, the others twice.
    for (let w = 0; w < warmup; w++) for (const k of kinds) if (w === 0 || !k.key.startsWith('first-request')) await run(k.key);
    for (const k of Object.keys(firstCalls)) delete firstCalls[k];
    for (const v of Object.values(later)) v.length = 0;
    // Interleaved, and the order rotated, so that a load spike on the machine hits every kind alike.
    for (let i = 0; i < opts.runs; i++) {
      for (let j = 0; j < kinds.length; j++) {
        const k = kinds[(i + j) % kinds.length]!;
        k.samples.push(await run(k.key));
      }
    }
    kinds.push(
      {
        key: 'first-compute',
        label: '`build` to first compute request',
        what: 'the same runs: spawn to the first Compute Engine request (the first compute client loaded and constructed)',
        samples: later['first-compute'],
        summary: undefined!,
      },
      {
        key: 'preflight-done',
        label: '`build` to the end of preflight',
        what: 'the same runs: spawn to `disks.insert` (every preflight check answered)',
        samples: later['preflight-done'],
        summary: undefined!,
      },
    );
    for (const k of kinds) {
      k.summary = summarize(k.samples);
      opts.log(
        `${k.key}: median ${k.summary.median.toFixed(0)} ms (min ${k.summary.min.toFixed(0)}, max ${k.summary.max.toFixed(0)}) over ${k.summary.n}`,
      );
    }

    // Whole builds with a VM that is done at once: the CLI's own time and the API round trips of a build.
    instantVm(emu);
    const fullSamples: number[] = [];
    const firstSamples: number[] = [];
    let calls: Record<string, number> = {};
    for (let i = 0; i < opts.fullBuilds; i++) {
      const before = emu.requests.length;
      const s = spawnNode([BIN, ...BASE_ARGS, `--image-name=bench-full-${i}`], buildEnv);
      const r = await s.done;
      expectExit(r, 0, 'a whole build against the emulator');
      fullSamples.push(r.wallMs);
      const mine = emu.requests.slice(before);
      firstSamples.push(mine[0]!.time - s.startedAt);
      calls = countBy(mine, (q) => q.call);
    }
    const fullBuild: FullBuild = {
      samples: fullSamples,
      summary: summarize(fullSamples),
      firstRequest: summarize(firstSamples),
      calls,
      byKind: Object.entries(calls).reduce<Record<string, number>>(
        (acc, [c, n]) => ((acc[kindOf(c)] = (acc[kindOf(c)] ?? 0) + n), acc),
        {},
      ),
    };
    opts.log(
      `whole build (instant VM): median ${fullBuild.summary.median.toFixed(0)} ms over ${fullSamples.length}; ${Object.values(calls).reduce((a, b) => a + b, 0)} requests`,
    );

    return { runs: opts.runs, warmup, kinds, firstCalls, fullBuild };
  } finally {
    await emu.close();
  }
}
