// CLI latency (docs/benchmarks.md §1): wall time of the built CLI for --help, an invalid invocation and a build up to its
// first API request (and its first compute request, and the end of preflight), each beside `node -e 0` in the same run;
// and how the Google client libraries are loaded.
import { isBuiltin } from 'node:module';
import { serialLine } from '../../test/emulator/index.js';
import { baseEnv, BIN, runNode, spawnNode, type ChildRun } from './child.js';
import { copyOfTheTool } from '../../test/helpers/tool-copy.js';
import { BASE_ARGS, cliEnv, countBy, emulator, isCompute, kindOf, until, type Emulator } from './emulator.js';
import { summarize, type Summary } from './stats.js';
import { computeClientModule, type ComputeClientName } from '../../src/gcp/clients.js';
import { COMPACT_FILE } from '../../src/gcp/compute-description.js';

export interface LatencyKind {
  key: 'node' | 'help' | 'invalid' | 'first-request' | 'first-request-whole' | 'first-compute' | 'preflight-done';
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

export interface Loading {
  /** Packages (bare specifiers) each kind of invocation loads. */
  packages: Record<'help' | 'invalid' | 'build', string[]>;
  /** Evaluations of each Google client package in one build. */
  loads: Record<string, number>;
  /** Constructions per client class in one build. */
  constructs: Record<string, number>;
}

export interface LatencyResult {
  runs: number;
  warmup: number;
  kinds: LatencyKind[];
  firstCalls: Record<string, number>;
  fullBuild: FullBuild;
  loading: Loading;
}

const INVALID = [
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--gcs-path=gs://test-bucket/logs',
  '--container-image=nginx:1.27',
  '--image-name=Not_A_Valid_Name',
];
const HOOK = './bench/hooks/count-clients.mjs';

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string): string =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

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
  const whole = copyOfTheTool({ [`gcp/${COMPACT_FILE}`]: null });
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
    const one: Record<'node' | 'help' | 'invalid' | 'first-request' | 'first-request-whole', () => Promise<number>> = {
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
      'first-request-whole': async () => {
        const { first, at } = await toPreflightEnd(whole.bin);
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
      {
        key: 'first-request-whole',
        label: '`build` to first API request, whole API description (as before)',
        what: 'the same, from a copy of the built tool without its compact compute API description: the clients read and build the whole of it',
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

    // What loads: one run of each with a module hook that reports package loads and client constructions.
    const traced = async (args: string[], e: NodeJS.ProcessEnv, code: number) => {
      const r = await runNode(['--import', HOOK, BIN, ...args], e);
      expectExit(r, code, `traced ${args.slice(0, 1).join(' ')}`);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('gdib-bench '));
      const pkgs = [...new Set(lines.filter((l) => l.startsWith('gdib-bench import ')).map((l) => packageOf(l.slice(18))))]
        .filter((p) => !isBuiltin(p))
        .sort();
      return { lines, pkgs };
    };
    const help = await traced(['--help'], env, 0);
    const invalid = await traced(INVALID, env, 2);
    const build = await traced([...BASE_ARGS, '--image-name=bench-traced'], buildEnv, 0);
    const loads = countBy(
      build.lines.filter((l) => l.startsWith('gdib-bench load ')),
      (l) => l.slice(16),
    );
    const constructs = countBy(
      build.lines.filter((l) => l.startsWith('gdib-bench construct ')),
      (l) => l.slice(21).split(' ')[1]!,
    );
    const loading: Loading = { packages: { help: help.pkgs, invalid: invalid.pkgs, build: build.pkgs }, loads, constructs };
    opts.log(`loads per build: ${JSON.stringify(loads)}; constructions: ${JSON.stringify(constructs)}`);
    return { runs: opts.runs, warmup, kinds, firstCalls, fullBuild, loading };
  } finally {
    whole.dispose();
    await emu.close();
  }
}

export interface ImportCosts {
  runs: number;
  heavyRuns: number;
  /** Median ms of each import or construction, in the order done. */
  light: Record<string, number>;
  /**
   * A build's loads, the same steps three ways: the compute package root, one module per client with the whole API
   * description (as before), and one module per client with the compact description (now).
   */
  heavy: { root: Record<string, number>; perClient: Record<string, number>; compact: Record<string, number> };
}

const LIGHT = `
const t = []; const mark = (n) => t.push([n, performance.now()]);
mark('start');
await import('commander'); mark('commander');
await import('zod'); mark('zod');
await import('./dist/config/schema.js'); mark('the config modules (schema, flags, rules)');
await import('./dist/cli.js'); mark('the rest of dist/cli.js');
console.log(JSON.stringify(t.slice(1).map(([n, v], i) => [n, v - t[i][1]])));`;

/** The loads of a build before its first requests; `client(name)` imports the module that holds a compute client. */
const heavy = (client: (name: string) => string, compact = false) => `
const t = []; const mark = (n) => t.push([n, performance.now()]);
mark('start');
${compact ? "(await import('./dist/gcp/compute-description.js')).useCompactDescription();" : ''} mark('put the compact API description in place');
const projects = await ${client('ProjectsClient')}; mark('import the compute client');
const gal = await import('google-auth-library'); mark('import google-auth-library');
const opts = () => { const a = new gal.OAuth2Client(); a.setCredentials({ access_token: 'x' }); return { authClient: a, apiEndpoint: '127.0.0.1', port: 9, protocol: 'http', fallback: true }; };
new projects.ProjectsClient(opts()); mark('first compute client constructed (ProjectsClient)');
const zones = await ${client('ZonesClient')}; new zones.ZonesClient(opts()); mark('second compute client imported and constructed (ZonesClient)');
const storage = await import('@google-cloud/storage'); mark('import @google-cloud/storage');
new storage.Storage({ apiEndpoint: 'http://127.0.0.1:9' }); mark('Storage constructed');
console.log(JSON.stringify(t.slice(1).map(([n, v], i) => [n, v - t[i][1]])));`;
const HEAVY_ROOT = heavy(() => `import('@google-cloud/compute')`);
const perClient = (name: string) => `import(${JSON.stringify(computeClientModule(name as ComputeClientName))})`;
const HEAVY_PER_CLIENT = heavy(perClient);
const HEAVY_COMPACT = heavy(perClient, true);

/** Where the time of --help and of a build's first request goes: each import timed in a fresh process. */
export async function measureImportCosts(opts: { lightRuns: number; heavyRuns: number }): Promise<ImportCosts> {
  const env = baseEnv();
  const samples: Record<string, Record<string, number[]>> = {};
  const once = async (key: string, script: string) => {
    const r = await runNode(['--input-type=module', '-e', script], env);
    expectExit(r, 0, 'import timing');
    for (const [name, v] of JSON.parse(r.stdout) as Array<[string, number]>) ((samples[key] ??= {})[name] ??= []).push(v);
  };
  const medians = (key: string) => Object.fromEntries(Object.entries(samples[key]!).map(([n, v]) => [n, summarize(v).median]));
  for (let i = 0; i < opts.lightRuns; i++) await once('light', LIGHT);
  // Alternating, so that both ways see the same load.
  for (let i = 0; i < opts.heavyRuns; i++) {
    await once('root', HEAVY_ROOT);
    await once('perClient', HEAVY_PER_CLIENT);
    await once('compact', HEAVY_COMPACT);
  }
  return {
    runs: opts.lightRuns,
    heavyRuns: opts.heavyRuns,
    light: medians('light'),
    heavy: { root: medians('root'), perClient: medians('perClient'), compact: medians('compact') },
  };
}
