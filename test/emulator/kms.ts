/**
 * Cloud KMS: just `projects.locations.keyRings.cryptoKeys.get`, which preflight uses to check a --kms-key, and the
 * check Compute Engine makes of a `kmsKeyName` when a disk or an image is created with one (SPEC.md, Cloud KMS).
 * Keys live in `state.cryptoKeys`, seeded with a few (seed.ts) and editable by tests.
 */
import { ApiError, invalid } from './errors.js';
import type { Router } from './router.js';
import type { EmulatorState } from './state.js';

export class KmsAccess {
  /** Set to make every cryptoKeys.get answer 403, as for a caller without cloudkms.cryptoKeys.get. */
  denied = false;
}

export function registerKms(router: Router, state: EmulatorState, access: KmsAccess): void {
  router.add('GET', '/v1/projects/:project/locations/:location/keyRings/:ring/cryptoKeys/:key', 'cloudkms.cryptoKeys.get', ({ params }) => {
    const name = `projects/${params['project']}/locations/${params['location']}/keyRings/${params['ring']}/cryptoKeys/${params['key']}`;
    if (access.denied)
      throw new ApiError(403, 'forbidden', `Permission 'cloudkms.cryptoKeys.get' denied on resource '${name}' (or it may not exist).`);
    const key = state.cryptoKeys.get(name);
    if (!key) throw new ApiError(404, 'notFound', `${name} not found.`);
    return {
      json: {
        name,
        purpose: key.purpose,
        createTime: '2024-01-01T00:00:00.000000000Z',
        ...(key.primaryState ? { primary: { name: `${name}/cryptoKeyVersions/1`, state: key.primaryState } } : {}),
        versionTemplate: { protectionLevel: 'SOFTWARE', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' },
      },
    };
  });
}

/**
 * The `kmsKeyName` of a disk or image body's `field` (`diskEncryptionKey`, `imageEncryptionKey`), checked as GCE
 * does before it encrypts with it: the key exists and its primary version is enabled (else 400 — emulator choice for
 * the shape of the error). undefined when the body has no such key.
 */
export function usableKey(state: EmulatorState, raw: unknown, field: string): string | undefined {
  const name = (raw as { kmsKeyName?: unknown } | undefined)?.kmsKeyName;
  if (name === undefined) return undefined;
  const key = typeof name === 'string' ? state.cryptoKeys.get(name) : undefined;
  if (!key || key.purpose !== 'ENCRYPT_DECRYPT' || key.primaryState !== 'ENABLED')
    throw invalid(
      `Invalid value for field '${field}.kmsKeyName': '${String(name)}'. Cloud KMS key not found or not usable for encryption.`,
    );
  return name as string;
}

/** How GCE reports the key of a resource: the key version that encrypts it. */
export const keyVersionJson = (name: string): { kmsKeyName: string } => ({ kmsKeyName: `${name}/cryptoKeyVersions/1` });
