// The run's parameters, read from the instance metadata and checked before anything is touched
// (docs/architecture.md, VM metadata). Every value is data: nothing is evaluated, nothing reaches a shell.
import {
  DEFAULT_PULL_STALL_TIMEOUT_S,
  DEVICE_NAME,
  MD,
  parseRegistrySecrets,
  statusValue,
  type DataDisk,
  type ImagePullAuth,
  type VmMode,
} from '../contract.js';
import type { DataParams } from './data-build.js';
import { parseDataPlan, parseHfTokenSecret } from './data-plan.js';
import { Fail } from './errors.js';
import type { Metadata } from './metadata.js';

export interface BuildParams {
  mode: 'build';
  runId: string;
  deviceName: string;
  images: string[];
  auth: ImagePullAuth;
  storeChecksums: boolean;
  dataDisk: DataDisk;
  platform: string;
  /** Registry host → secret version name. */
  registrySecrets: Map<string, string>;
  pullStallTimeoutS: number;
}

export interface VerifyParams {
  mode: 'verify';
  runId: string;
  deviceName: string;
}

const DEVICE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** The OCI reference alphabet (the CLI checked the grammar); never a leading '-' (an option to ctr). */
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._/:@_-]*$/;
const PLATFORM = /^[a-z0-9_]+\/[a-z0-9_]+(\/[a-z0-9_.]+)?$/;

export async function readMode(md: Metadata): Promise<VmMode> {
  const mode = await md.attribute(MD.mode, 'build');
  if (mode !== 'build' && mode !== 'verify') throw new Fail(`invalid ${MD.mode} '${statusValue(mode)}' (expected build or verify)`);
  return mode;
}

async function deviceName(md: Metadata): Promise<string> {
  const name = await md.attribute(MD.deviceName, DEVICE_NAME);
  if (!DEVICE.test(name)) throw new Fail(`invalid ${MD.deviceName} '${statusValue(name)}'`);
  return name;
}

/** The image list: one reference a line, blank lines and duplicates dropped, order kept. */
export function parseImages(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r/g, '').trim();
    if (line === '') continue;
    if (!REFERENCE.test(line) || line.length > 1024) {
      throw new Fail(`invalid container image reference in ${MD.containerImages}: '${statusValue(line.slice(0, 200))}'`);
    }
    if (!out.includes(line)) out.push(line);
  }
  if (out.length === 0) throw new Fail(`metadata ${MD.containerImages} lists no image`);
  return out;
}

export function parseAuth(text: string): ImagePullAuth {
  switch (text.toLowerCase()) {
    case 'none':
      return 'None';
    case 'serviceaccounttoken':
      return 'ServiceAccountToken';
    case 'auto':
      return 'Auto';
    default:
      throw new Fail(`invalid ${MD.imagePullAuth} '${statusValue(text)}' (expected None, ServiceAccountToken or Auto)`);
  }
}

export function parseStallTimeout(text: string): number {
  if (!/^[1-9][0-9]{0,6}$/.test(text.trim()))
    throw new Fail(`invalid ${MD.pullStallTimeout} '${statusValue(text)}' (expected a whole number of seconds, 1 or more)`);
  return Number(text.trim());
}

export async function readBuildParams(md: Metadata): Promise<BuildParams> {
  const runId = await md.attribute(MD.runId, 'unknown');
  const device = await deviceName(md);
  const images = parseImages(await md.attribute(MD.containerImages, ''));
  const auth = parseAuth(await md.attribute(MD.imagePullAuth, 'None'));
  const store = (await md.attribute(MD.storeChecksums, 'true')).toLowerCase();
  if (store !== 'true' && store !== 'false')
    throw new Fail(`invalid ${MD.storeChecksums} '${statusValue(store)}' (expected true or false)`);
  const dataDisk = await md.attribute(MD.dataDisk, 'blank');
  if (dataDisk !== 'blank' && dataDisk !== 'from-image') {
    throw new Fail(`invalid ${MD.dataDisk} '${statusValue(dataDisk)}' (expected blank or from-image)`);
  }
  const platform = await md.attribute(MD.platform, 'linux/amd64');
  if (!PLATFORM.test(platform)) throw new Fail(`invalid ${MD.platform} '${statusValue(platform)}'`);
  const secrets = parseRegistrySecrets(await md.attribute(MD.registrySecrets, ''));
  if (typeof secrets === 'string') throw new Fail(secrets);
  const stall = parseStallTimeout(await md.attribute(MD.pullStallTimeout, String(DEFAULT_PULL_STALL_TIMEOUT_S)));
  return {
    mode: 'build',
    runId,
    deviceName: device,
    images,
    auth,
    storeChecksums: store === 'true',
    dataDisk,
    platform,
    registrySecrets: secrets,
    pullStallTimeoutS: stall,
  };
}

export async function readVerifyParams(md: Metadata): Promise<VerifyParams> {
  return { mode: 'verify', runId: await md.attribute(MD.runId, 'unknown'), deviceName: await deviceName(md) };
}

/**
 * A data disk's parameters when metadata gdib-data-plan is set, else undefined (a disk of container images). A disk
 * has one kind: both set is an error.
 */
export async function readDataParams(md: Metadata): Promise<DataParams | undefined> {
  const text = await md.attribute(MD.dataPlan, '');
  if (text.trim() === '') return undefined;
  if ((await md.attribute(MD.containerImages, '')).trim() !== '')
    throw new Fail(`metadata has both ${MD.dataPlan} and ${MD.containerImages}: a disk holds data files or container images, not both`);
  const plan = parseDataPlan(text);
  const hfTokenSecret = parseHfTokenSecret(await md.attribute(MD.hfTokenSecret, ''));
  return {
    mode: 'build',
    runId: await md.attribute(MD.runId, 'unknown'),
    deviceName: await deviceName(md),
    plan,
    ...(hfTokenSecret ? { hfTokenSecret } : {}),
    pullStallTimeoutS: parseStallTimeout(await md.attribute(MD.pullStallTimeout, String(DEFAULT_PULL_STALL_TIMEOUT_S))),
  };
}
