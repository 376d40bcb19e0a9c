// docs/benchmarks.md §5, "build --local vs the VM path": `build --local` against a build through the emulator whose VMs really run the startup
// script (test/emulator/real-vm.ts), same image, both with the CLI in-process (main(argv, io)) like the e2e tests.
import { startEmulator } from '../../test/emulator/index.js';
import { realVm } from '../../test/emulator/real-vm.js';
import { runCli } from '../../test/helpers/cli.js';
import type { Rig } from '../../test/rig/rig.js';

const TOKEN = 'ya29.bench-local-vs-vm-0123456789';

export interface PathRun {
  wallSec: number;
  code: number;
  /** The VM phases result.json recorded, seconds. */
  vmPhases: Record<string, number>;
  requests: Record<string, number>;
}

export interface LocalVsVm {
  image: string;
  local: PathRun;
  vm: PathRun;
}

export async function localVsVm(rig: Rig, ref: string, opts: { diskGb: number; maxDiskMiB: number }): Promise<LocalVsVm> {
  const emu = await startEmulator({ acceptTokens: [TOKEN] });
  const real = realVm(emu, rig, { maxDiskMiB: opts.maxDiskMiB });
  const env = {
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: emu.computeEndpoint,
    STORAGE_EMULATOR_HOST: emu.storageHost,
    CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
    GDIB_HOSTS_DIR: rig.hostsDir,
  };
  const common = ['--project-name=test-project', '--skip-image-check', `--disk-size-gb=${opts.diskGb}`, `--container-image=${ref}`];
  const one = async (name: string, args: string[]): Promise<PathRun> => {
    const before = emu.requests.length;
    const t = performance.now();
    const r = await runCli([...common, `--image-name=${name}`, ...args], { env });
    const wallSec = (performance.now() - t) / 1000;
    await real.idle();
    if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr.slice(-3000)}`);
    const reqs = emu.requests.slice(before);
    const requests: Record<string, number> = {};
    for (const q of reqs) requests[q.call] = (requests[q.call] ?? 0) + 1;
    const resultKey = [...emu.state.objects.keys()].filter((k) => k.endsWith('/result.json')).at(-1);
    const result = resultKey
      ? (JSON.parse(emu.state.objects.get(resultKey)!.data.toString()) as { vmPhases?: Record<string, number> })
      : {};
    return { wallSec, code: r.code, vmPhases: result.vmPhases ?? {}, requests };
  };
  try {
    const local = await one('bench-local', ['--local', '--gcs-path=gs://test-bucket/local']);
    const vm = await one('bench-vm', ['--zone=us-central1-a', '--gcs-path=gs://test-bucket/logs', '--timeout=5m']);
    return { image: ref, local, vm };
  } finally {
    await emu.close();
  }
}
