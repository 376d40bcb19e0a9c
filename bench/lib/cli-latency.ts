// CLI latency (docs/benchmarks.md, section 1): spawn to exit of the built CLI for --help and for an invalid invocation,
// and spawn to a build's first API request, each beside `node -e 0` in the same rounds (interleaved, the order rotated,
// so that a load spike on the machine hits every kind alike); then whole builds with a VM that succeeds at once.
import { serialLine } from '../../test/emulator/index.js';
import { baseEnv, BIN, runNode, spawnNode, type ChildRun } from './child.js';
import { BASE_ARGS, cliEnv, countBy, emulator, kindOf, until } from './emulator.js';
import { summarize, type Summary } from './stats.js';

export const LATENCY_KINDS = {
  node: '`node -e 0`: Node starts and exits, nothing loaded (the floor)',
  help: '`--help`, spawn to exit (exit 0)',
  invalid: 'every flag given, `--image-name=Not_A_Valid_Name`: spawn to exit (exit 2, one line naming the flag)',
  'first-request': '`build`: spawn to the first request the emulator records (token, first client, first preflight call)',
} as const;
export type LatencyKey = keyof typeof LATENCY_KINDS;

export interface LatencyResult {
  runs: number;
  kinds: Record<LatencyKey, { samples: number[]; summary: Summary }>;
  /** Whole builds, the VM done at once: wall ms, and the requests of one build by kind. */
  fullBuild: { summary: Summary; byKind: Record<string, number> };
}

function expectExit(r: ChildRun, code: number, what: string): ChildRun {
  if (r.code !== code) throw new Error(`${what}: exit code ${r.code} (signal ${r.signal}), expected ${code}\n${r.stderr.slice(-2000)}`);
  return r;
}

export async function measureCliLatency(runs: number, fullBuilds: number, log: (s: string) => void): Promise<LatencyResult> {
  const emu = await emulator();
  const env = baseEnv();
  const buildEnv = baseEnv(cliEnv(emu));
  let buildNo = 0;
  const one: Record<LatencyKey, () => Promise<number>> = {
    node: async () => expectExit(await runNode(['-e', '0'], env), 0, 'node -e 0').wallMs,
    help: async () => {
      const r = expectExit(await runNode([BIN, '--help'], env), 0, '--help');
      if (!r.stdout.includes('--container-image')) throw new Error('--help printed no flags');
      return r.wallMs;
    },
    invalid: async () => {
      const r = expectExit(await runNode([BIN, ...BASE_ARGS, '--image-name=Not_A_Valid_Name'], env), 2, 'the invalid invocation');
      if (!r.stderr.includes('--image-name')) throw new Error(`the invalid invocation did not name --image-name: ${r.stderr}`);
      return r.wallMs;
    },
    // The build is stopped at its first request; whole builds are measured below.
    'first-request': async () => {
      const before = emu.requests.length;
      const s = spawnNode([BIN, ...BASE_ARGS, `--image-name=bench-first-${buildNo++}`], buildEnv);
      let exited = false;
      void s.done.then(() => (exited = true));
      await until(() => emu.requests.length > before || exited, 60_000, 'the first request');
      s.child.kill('SIGKILL');
      const r = await s.done;
      const first = emu.requests[before];
      if (!first) throw new Error(`the build exited before its first request: ${r.stderr}`);
      return first.time - s.startedAt;
    },
  };
  try {
    const keys = Object.keys(one) as LatencyKey[];
    // Warm-up: the file cache, the emulator's JIT.
    for (let w = 0; w < 2; w++) for (const k of keys) await one[k]();
    const samples = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<LatencyKey, number[]>;
    for (let i = 0; i < runs; i++)
      for (let j = 0; j < keys.length; j++) samples[keys[(i + j) % keys.length]!].push(await one[keys[(i + j) % keys.length]!]());
    const kinds = Object.fromEntries(
      keys.map((k) => [k, { samples: samples[k], summary: summarize(samples[k]) }]),
    ) as LatencyResult['kinds'];
    for (const k of keys)
      log(`${k}: median ${kinds[k].summary.median.toFixed(0)} ms (${kinds[k].summary.min.toFixed(0)}–${kinds[k].summary.max.toFixed(0)})`);

    emu.vm.reset();
    emu.vm.script([
      {
        afterMs: 0,
        serial: serialLine('gdib: state=running') + serialLine('gdib: phase=done'),
        attributes: { 'gdib/state': 'running', 'gdib/phase': 'done' },
      },
      { afterMs: 0, serial: serialLine('gdib: state=succeeded'), attributes: { 'gdib/state': 'succeeded' } },
    ]);
    const wall: number[] = [];
    let byKind: Record<string, number> = {};
    for (let i = 0; i < fullBuilds; i++) {
      const before = emu.requests.length;
      wall.push(expectExit(await runNode([BIN, ...BASE_ARGS, `--image-name=bench-full-${i}`], buildEnv), 0, 'a whole build').wallMs);
      byKind = countBy(emu.requests.slice(before), (q) => kindOf(q.call));
    }
    log(`whole build (instant VM): median ${summarize(wall).median.toFixed(0)} ms`);
    return { runs, kinds, fullBuild: { summary: summarize(wall), byKind } };
  } finally {
    await emu.close();
  }
}
