// Runs the VM's startup script (the bootstrap, which runs the agent) exactly as the CLI renders the metadata, outside GCE:
// a fake metadata server serves the rest of the rendered metadata, and only the script's variables of docs/architecture.md, Test seams
// (plus PATH) reach the script.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderMetadata, type MetadataInput } from '../../src/startup-script/render.js';
import { startMetadataServer, type MetadataServer, type MetadataServerOptions } from './metadata-server.js';
import { run } from './proc.js';
import { agentWithOptions } from './agent-bundle.js';
import type { AgentOptions } from '../../src/vm/agent/context.js';

export interface ScriptRunOptions {
  input: MetadataInput;
  /** The block device the script formats (build) or verifies. */
  device: string;
  /** A directory of its own for this run: work dir, mount point, the script file. */
  dir: string;
  hostsDir?: string;
  /** Overrides of the fake metadata server (token issuing, extra attributes). */
  metadata?: Omit<MetadataServerOptions, 'attributes'> & { attributes?: Record<string, string> };
  timeoutMs?: number;
  /** More of the agent's seams (docs/architecture.md, Test seams), e.g. GDIB_SECRETMANAGER_ENDPOINT. */
  env?: Record<string, string>;
  /** The agent's typed options (e.g. `pullJobs`): the run gets the agent bundled with them compiled in. */
  agentOptions?: AgentOptions;
  /** Called with the script's process once it runs, e.g. to send it SIGTERM as a VM shutdown would. */
  onStart?: (script: ChildProcess) => void;
}

export interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  metadata: MetadataServer;
  mountDir: string;
  workDir: string;
  /** The `gdib: key=value` facts (docs/architecture.md, VM status) seen on stdout (the serial console), in order. */
  serialFacts: { key: string; value: string }[];
}

export async function runVmScript(opts: ScriptRunOptions): Promise<ScriptRun> {
  const items = renderMetadata(opts.input);
  const attributes = Object.fromEntries(items.map((i) => [i.key, i.value]));
  if (opts.agentOptions) attributes['gdib-agent'] = agentWithOptions(opts.agentOptions);
  const metadata = await startMetadataServer({ ...opts.metadata, attributes: { ...attributes, ...opts.metadata?.attributes } });
  const workDir = join(opts.dir, 'work');
  const mountDir = join(opts.dir, 'mnt');
  mkdirSync(opts.dir, { recursive: true });
  const scriptFile = join(opts.dir, 'startup-script');
  writeFileSync(scriptFile, attributes['startup-script'] ?? '', { mode: 0o755 });
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    GCE_METADATA_HOST: metadata.host,
    GDIB_DEVICE: opts.device,
    GDIB_MOUNT_DIR: mountDir,
    GDIB_WORK_DIR: workDir,
    ...(opts.hostsDir ? { GDIB_HOSTS_DIR: opts.hostsDir } : {}),
    ...opts.env,
  };
  const started = Date.now();
  try {
    const res = await run('/bin/bash', [scriptFile], {
      env,
      allowFailure: true,
      timeoutMs: opts.timeoutMs ?? 180_000,
      ...(opts.onStart ? { onSpawn: opts.onStart } : {}),
    });
    const serialFacts = [...res.stdout.matchAll(/^gdib: (state|phase|progress|error)=(.*)$/gm)].map((m) => ({
      key: m[1] ?? '',
      value: m[2] ?? '',
    }));
    return { ...res, durationMs: Date.now() - started, metadata, mountDir, workDir, serialFacts };
  } finally {
    await metadata.close();
  }
}
