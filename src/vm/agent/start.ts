// The agent as a process, on the VM (and with --local): the seams of docs/architecture.md (Test seams) from the
// environment, signals and the script runner's disappearance turned into an interrupted run, then the exit status.
// `options` are the tests' typed options (the shipped entry, main.ts, passes none).
import type { AgentOptions } from './context.js';
import { Fail, Step } from './errors.js';
import { runAgent } from './run.js';

declare const __GDIB_VERSION__: string;

export async function startAgent(options: AgentOptions): Promise<never> {
  const env = process.env;
  const controller = new AbortController();
  const step = new Step();
  const onSignal = (sig: 'SIGTERM' | 'SIGINT') => {
    if (!controller.signal.aborted)
      controller.abort(new Fail(`interrupted by ${sig} during: ${step.current}`, sig === 'SIGTERM' ? 143 : 130));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => undefined);
  // The script runner going away (VM stop: it is killed, the agent is not) leaves the agent with another parent.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent && !controller.signal.aborted) {
      controller.abort(new Fail(`the script runner went away during: ${step.current}`));
    }
  }, 2000);
  watch.unref();

  const { code } = await runAgent({
    mdHost: env.GCE_METADATA_HOST || 'metadata.google.internal',
    env: {
      ...(env.GDIB_DEVICE ? { device: env.GDIB_DEVICE } : {}),
      workDir: env.GDIB_WORK_DIR || '/var/lib/gdib',
      mountDir: env.GDIB_MOUNT_DIR || '/mnt/disks/gdib',
      ...(env.GDIB_HOSTS_DIR ? { hostsDir: env.GDIB_HOSTS_DIR } : {}),
      secretManagerEndpoint: env.GDIB_SECRETMANAGER_ENDPOINT || 'https://secretmanager.googleapis.com',
      ...(env.GDIB_STORAGE_ENDPOINT ? { storageEndpoint: env.GDIB_STORAGE_ENDPOINT } : {}),
      ...(env.HF_ENDPOINT ? { hfEndpoint: env.HF_ENDPOINT } : {}),
      path: env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    },
    opts: options,
    version: typeof __GDIB_VERSION__ === 'string' ? __GDIB_VERSION__ : 'dev',
    bootstrapped: env.GDIB_BOOTSTRAPPED === '1',
    signal: controller.signal,
    console: true,
    step,
  });
  process.exit(code);
}
