// Preflight's part of --registry-secret (docs/architecture.md, Registry secrets): each secret is read with the caller's
// token — it exists, the caller may access it, it holds credentials for its host — so that the images can be resolved
// with them before anything is created. The VM reads the secret again itself, with its service account's token.
import { ApiError } from '../../gcp/errors.js';
import type { ImageRun, RegistrySecret } from '../../config/types.js';
import type { HostCredentials } from '../../registry/client.js';
import { shellCommand, shellQuote } from '../../io/shell-quote.js';
import type { BuildContext } from '../context.js';

export const SECRET_ACCESSOR_ROLE = 'roles/secretmanager.secretAccessor';

export interface SecretsRead {
  /** Host → the credentials read for it. */
  credentials: Map<string, HostCredentials>;
  /** Hosts whose secret could not be used (their images are not resolved: the secret's problem says it all). */
  failedHosts: Set<string>;
  problems: string[];
}

/** `projects/P/secrets/S/versions/V` → its parts. */
export function secretParts(secretVersion: string): { project: string; secret: string; name: string; version: string } {
  const [, project = '', , name = '', , version = ''] = secretVersion.split('/');
  return { project, secret: `projects/${project}/secrets/${name}`, name, version };
}

/** The command that lets a member read a secret. */
export function grantCommand(secretVersion: string, member: string): string {
  const { project, name } = secretParts(secretVersion);
  // `member` is already a shell word (the default account's is a quoted command substitution, on purpose).
  return `${shellCommand('gcloud', 'secrets', 'add-iam-policy-binding', name, `--project=${project}`)} --member=${member} --role=${SECRET_ACCESSOR_ROLE}`;
}

/** The VM's service account as an IAM member (the Compute Engine default account's email needs the project number). */
export function vmMember(serviceAccount: string, project: string): string {
  return serviceAccount === 'default'
    ? `"serviceAccount:$(gcloud projects describe ${project} --format='value(projectNumber)')-compute@developer.gserviceaccount.com"`
    : shellQuote(`serviceAccount:${serviceAccount}`);
}

export async function readRegistrySecrets(ctx: BuildContext<ImageRun>, signal: AbortSignal): Promise<SecretsRead> {
  const out: SecretsRead = { credentials: new Map(), failedHosts: new Set(), problems: [] };
  await Promise.all(
    ctx.config.registrySecrets.map(async (s) => {
      const problem = await readOne(ctx, s, out, signal);
      if (problem) {
        out.problems.push(problem);
        out.failedHosts.add(s.host);
      }
    }),
  );
  return out;
}

async function readOne(ctx: BuildContext<ImageRun>, s: RegistrySecret, out: SecretsRead, signal: AbortSignal): Promise<string | undefined> {
  const sm = ctx.cloud.secretManager;
  const { secret, version } = secretParts(s.secretVersion);
  const flag = `--registry-secret ${s.host}`;
  let creds;
  try {
    creds = await sm.registryCredentials(s.secretVersion, s.host, signal);
  } catch (err) {
    if (signal.aborted || !(err instanceof ApiError)) throw err;
    if (err.status === 403)
      return `you may not read secret ${s.secretVersion}, or it does not exist (${flag}): reading it needs ${SECRET_ACCESSOR_ROLE} on the secret, for you and for the VM's service account`;
    if (err.status === 404) {
      const exists = await sm.secretExists(secret, signal).catch(() => false);
      return exists
        ? `secret ${secret} has no version ${version} (${flag})`
        : `secret ${secret} does not exist, or you may not see it (${flag})`;
    }
    if (err.status === 400)
      return `version ${version} of secret ${secret} cannot be read (${flag}): ${err.info.message} (enable it, or name another version)`;
    throw err;
  }
  if (typeof creds === 'string') {
    const expected = `expected USERNAME:PASSWORD, or a Docker config.json with an "auths" entry for ${s.host}`;
    return `secret ${s.secretVersion} holds no credentials for ${s.host} (${flag}): ${creds}${creds.startsWith('expected') ? '' : `; ${expected}`}`;
  }
  out.credentials.set(s.host, { ...creds, from: `secret ${s.secretVersion}` });
  return undefined;
}
