/**
 * The real Google clients, pointed at an emulator with a bearer token — what tests use, and a
 * record of the options each library needs to talk to a local endpoint with credentials:
 *
 * - @google-cloud/compute (REST transport): host as `apiEndpoint`, port as `port` (a port in
 *   `apiEndpoint` is ignored), `protocol: 'http'`, and an `authClient`.
 * - @google-cloud/storage v7: `apiEndpoint` + `useAuthWithCustomEndpoint: true`, and an auth
 *   client from the google-auth-library v9 it bundles (its GoogleAuth drops a v10 client's
 *   credentials). Its resumable upload sends no token to a custom endpoint even so; the session
 *   URI needs none, so starting the session with `createResumableUpload()` (which does send the
 *   token) and uploading to that URI works.
 */
import { createRequire } from 'node:module';
import type { DisksClient } from '@google-cloud/compute';
import { Storage } from '@google-cloud/storage';
import { OAuth2Client } from 'google-auth-library';
import type { Emulator } from './index.js';

/** The auth client type compute declares (google-gax's own google-auth-library copy; a v10 client works at run time). */
type ComputeAuthClient = NonNullable<NonNullable<ConstructorParameters<typeof DisksClient>[0]>['authClient']>;

// A type alias, not an interface: compute's ClientOptions has an index signature.
export type ComputeClientOptions = {
  apiEndpoint: string;
  port: number;
  protocol: 'http';
  authClient: ComputeAuthClient;
};

/** Options for any `@google-cloud/compute` client (e.g. `new DisksClient(computeOptions(emu, token))`). */
export function computeOptions(emu: Pick<Emulator, 'port'>, token: string): ComputeClientOptions {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: token });
  return { apiEndpoint: '127.0.0.1', port: emu.port, protocol: 'http', authClient: authClient as unknown as ComputeAuthClient };
}

interface V9OAuth2Client {
  setCredentials(c: { access_token: string }): void;
}

/** An OAuth2Client from the google-auth-library copy that @google-cloud/storage uses. */
export function storageAuthClient(token: string): V9OAuth2Client {
  const storageEntry = createRequire(import.meta.url).resolve('@google-cloud/storage');
  const gal = createRequire(storageEntry)('google-auth-library') as { OAuth2Client: new () => V9OAuth2Client };
  const client = new gal.OAuth2Client();
  client.setCredentials({ access_token: token });
  return client;
}

export function storageClient(emu: Pick<Emulator, 'storageHost'>, token: string, extra: { timeout?: number } = {}): Storage {
  return new Storage({
    ...extra,
    apiEndpoint: emu.storageHost,
    useAuthWithCustomEndpoint: true,
    authClient: storageAuthClient(token) as never,
    projectId: 'test-project',
    retryOptions: { autoRetry: false },
  });
}
