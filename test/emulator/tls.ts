/**
 * A TLS identity for the emulator's Kubernetes API servers: a self-signed certificate for 127.0.0.1 that is its own
 * CA, as a GKE cluster's endpoint certificate is checked against the cluster's CA (`masterAuth.clusterCaCertificate`).
 * Made once per process with the openssl command line (Node can make keys but not certificates).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TlsIdentity {
  /** PEM */
  key: string;
  /** PEM: the server's certificate, which is also the CA to trust. */
  cert: string;
}

let made: Promise<TlsIdentity> | undefined;

export function tlsIdentity(): Promise<TlsIdentity> {
  made ??= selfSigned('gke-emulator-ca', ['subjectAltName=IP:127.0.0.1', 'basicConstraints=critical,CA:TRUE']);
  return made;
}

/** A new P-256 key and a self-signed certificate for `/CN=<cn>`, valid two days, with these `-addext` extensions. */
export async function selfSigned(cn: string, extensions: readonly string[] = []): Promise<TlsIdentity> {
  const dir = await mkdtemp(join(tmpdir(), 'gdib-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    // prettier-ignore
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`,
      ...extensions.flatMap((e) => ['-addext', e]),
    ]);
    return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
