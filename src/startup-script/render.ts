// Renders the VM metadata (docs/architecture.md, VM metadata): the bash bootstrap as `startup-script`, the agent bundle
// as `gdib-agent`, and the run's parameters under the keys of the contract (src/vm/contract.ts). No item is sent with
// an empty value (compute's API description requires one).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AGENT_NODE_MAJOR,
  COMMANDS_OF,
  DATA_BUILD_COMMANDS,
  DEVICE_NAME,
  formatRegistrySecrets,
  MD,
  PACKAGE_OF,
  type DataPlan,
  type ImagePullAuth,
  type VmMode,
} from '../vm/contract.js';

export { DEVICE_NAME, type ImagePullAuth, type VmMode };

export interface MetadataInput {
  mode: VmMode;
  runId: string;
  containerImages: readonly string[];
  imagePullAuth: ImagePullAuth;
  storeChecksums: boolean;
  platform: string;
  /**
   * `from-image`: the data disk was created from a base image this tool built, so the agent mounts it without
   * formatting and reuses its snapshots (docs/architecture.md, VM metadata). Absent or `blank`: a fresh disk.
   */
  dataDisk?: 'blank' | 'from-image';
  /** Hosts whose credentials the VM reads itself from Secret Manager, by secret version name (never the secret). */
  registrySecrets?: readonly { host: string; secretVersion: string }[];
  /** Seconds a pull may receive no bytes (--pull-stall-timeout); the agent's default when absent. */
  pullStallTimeoutS?: number;
  /** Appended to every serial status line as ` nonce=<value>` ([A-Za-z0-9_-], 8 to 128 characters). */
  statusNonce?: string;
  /** A data disk: its resolved sources and the listing's fingerprint (sent instead of the container images). */
  dataPlan?: DataPlan;
  /** The Hugging Face token's secret version (its name only; the VM reads the secret itself). */
  hfTokenSecret?: string;
}

export interface MetadataItem {
  key: string;
  value: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The bundled agent (dist/vm/agent.mjs, made by `npm run build`), found from dist/ or from src/. */
export function agentBundlePath(): string {
  const candidates = [join(here, '..', 'vm', 'agent.mjs'), join(here, '..', '..', 'dist', 'vm', 'agent.mjs')];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error('the VM agent bundle (dist/vm/agent.mjs) is missing: run npm run build');
  return found;
}

let agentText: string | undefined;
export function agentBundle(): string {
  agentText ??= readFileSync(agentBundlePath(), 'utf8');
  return agentText;
}

const rendered = new Map<string, string>();

/**
 * The bash bootstrap for this mode: the commands it makes sure of (with their packages) filled in from the contract;
 * a data disk's build needs fewer (no containerd to install).
 */
export function startupScript(mode: VmMode, data = false): string {
  const key = `${mode}${data && mode === 'build' ? '-data' : ''}`;
  const cached = rendered.get(key);
  if (cached !== undefined) return cached;
  const commands = data && mode === 'build' ? DATA_BUILD_COMMANDS : COMMANDS_OF[mode];
  const pairs = commands.map((c) => `${c}=${PACKAGE_OF[c] ?? c}`).join(' ');
  const script = readFileSync(join(here, 'bootstrap.sh'), 'utf8')
    .replace('__GDIB_COMMANDS__', pairs)
    .replaceAll('__GDIB_NODE_MAJOR__', String(AGENT_NODE_MAJOR));
  rendered.set(key, script);
  return script;
}

export function renderMetadata(input: MetadataInput): MetadataItem[] {
  const items: MetadataItem[] = [
    { key: MD.startupScript, value: startupScript(input.mode, input.dataPlan !== undefined) },
    { key: MD.agent, value: agentBundle() },
    { key: MD.guestAttributes, value: 'TRUE' },
    { key: MD.mode, value: input.mode },
    { key: MD.runId, value: input.runId },
    { key: MD.deviceName, value: DEVICE_NAME },
    { key: MD.containerImages, value: input.containerImages.join('\n') },
    { key: MD.imagePullAuth, value: input.imagePullAuth },
    { key: MD.storeChecksums, value: String(input.storeChecksums) },
    { key: MD.platform, value: input.platform },
    ...(input.dataDisk === 'from-image' ? [{ key: MD.dataDisk, value: 'from-image' }] : []),
    ...(input.registrySecrets?.length ? [{ key: MD.registrySecrets, value: formatRegistrySecrets(input.registrySecrets) }] : []),
    ...(input.pullStallTimeoutS !== undefined ? [{ key: MD.pullStallTimeout, value: String(input.pullStallTimeoutS) }] : []),
    ...(input.statusNonce !== undefined ? [{ key: MD.statusNonce, value: input.statusNonce }] : []),
    ...(input.dataPlan ? [{ key: MD.dataPlan, value: JSON.stringify(input.dataPlan) }] : []),
    ...(input.hfTokenSecret ? [{ key: MD.hfTokenSecret, value: input.hfTokenSecret }] : []),
  ];
  return items.filter((i) => i.value !== '');
}
