// What the VM may do with its service account's token (docs/architecture.md, Least privilege): the scopes it is
// given are the fewest that serve what its script does, and none at all — no service account — when it uses no
// token. And which registry hosts will receive the Google token, so that sending it to a third party is said.
import { parseImageReference } from '../config/reference.js';
import type { VmRun } from '../config/types.js';
import { isGoogleRegistry } from '../registry/client.js';

export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Reading from Artifact Registry and Container Registry (their pull permission is under this scope). */
export const STORAGE_READ_ONLY = 'https://www.googleapis.com/auth/devstorage.read_only';

export interface VmAccess {
  /** The scopes of the VM's service account; empty: the VM gets no service account. */
  scopes: readonly string[];
  /** Why, for the dry run. */
  why: string;
}

const hostOf = (ref: string): string => {
  const r = parseImageReference(ref);
  return typeof r === 'string' ? '' : r.registry;
};

/** The hosts the VM sends the service account's token to when pulling (hosts with a registry secret use that). */
export function tokenHosts(run: {
  imagePullAuth: string;
  containerImages: readonly string[];
  registrySecrets: ReadonlyArray<{ host: string }>;
}): string[] {
  const secret = new Set(run.registrySecrets.map((s) => s.host));
  const hosts = [...new Set(run.containerImages.map(hostOf))].filter((h) => h && !secret.has(h));
  switch (run.imagePullAuth) {
    case 'ServiceAccountToken':
      return hosts;
    case 'Auto':
      return hosts.filter(isGoogleRegistry);
    default:
      return [];
  }
}

/** The hosts that will receive the Google token though they are not Google's registries (ServiceAccountToken). */
export function thirdPartyTokenHosts(run: Parameters<typeof tokenHosts>[0]): string[] {
  return tokenHosts(run).filter((h) => !isGoogleRegistry(h));
}

export function vmAccess(run: VmRun): VmAccess {
  switch (run.kind) {
    case 'vm-verify':
      return { scopes: [], why: 'no service account: verifying reads only the disk' };
    case 'vm-build': {
      if (run.dataSources.length > 0) return dataDiskAccess(run);
      if (run.registrySecrets.length > 0)
        return {
          scopes: [CLOUD_PLATFORM],
          why: 'scope cloud-platform: the VM reads --registry-secret from Secret Manager, which accepts no narrower scope',
        };
      const hosts = tokenHosts(run);
      if (hosts.length === 0)
        return { scopes: [], why: `no service account: the VM sends no token (--image-pull-auth=${run.imagePullAuth})` };
      return {
        scopes: [STORAGE_READ_ONLY],
        why: `scope devstorage.read_only: the VM pulls with its token from ${hosts.join(', ')}, and Artifact Registry and Container Registry allow pulls with it`,
      };
    }
  }
}

/**
 * A data disk's VM (docs/architecture.md, Data disks): Cloud Storage reads need devstorage.read_only, the Hugging Face
 * token's secret needs cloud-platform (Secret Manager accepts no narrower scope); public models need no token.
 */
function dataDiskAccess(run: Extract<VmRun, { kind: 'vm-build' }>): VmAccess {
  const buckets = [...new Set(run.dataSources.flatMap((s) => (s.kind === 'gcs' ? [`gs://${s.bucket}`] : [])))];
  if (run.hfTokenSecret)
    return {
      scopes: [CLOUD_PLATFORM],
      why: `scope cloud-platform: the VM reads --hf-token-secret from Secret Manager, which accepts no narrower scope${buckets.length ? ` (and reads ${buckets.join(', ')})` : ''}`,
    };
  if (buckets.length > 0)
    return { scopes: [STORAGE_READ_ONLY], why: `scope devstorage.read_only: the VM reads ${buckets.join(', ')} with its token` };
  return { scopes: [], why: 'no service account: the VM downloads public Hugging Face models and sends no token' };
}
