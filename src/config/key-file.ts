// --gcp-oauth: a service-account or authorized-user key file, read and judged while the input is validated, so
// that a bad file is one line naming the flag and the file (exit 2) rather than a failure at the first token.
// The file is read through src/io/safe-file.ts: a FIFO, a device, a directory or a huge file is refused at once.
import { createPrivateKey } from 'node:crypto';
import { resolve } from 'node:path';
import { readSmallFile } from '../io/safe-file.js';
import { clip, shownPath } from './rules.js';
import type { KeyFile } from './types.js';

/** A key file is about 2.3 KB; this is far above any real one and far below what could hurt. */
export const KEY_FILE_MAX_BYTES = 64 * 1024;

const DEFAULT_TOKEN_URI = 'https://oauth2.googleapis.com/token';

/** The key file at `path` (absolute), or what is wrong with it, naming the file. */
export function loadKeyFile(path: string): KeyFile | string {
  const shown = shownPath(path);
  const read = readSmallFile(path, KEY_FILE_MAX_BYTES);
  if ('problem' in read) return `${shown} ${read.problem}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(read.text);
  } catch {
    return `${shown} is not JSON (expected a service-account key file)`;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return `${shown} does not hold a JSON object (expected a service-account key file)`;
  const json = parsed as Record<string, unknown>;
  const tokenUri = typeof json.token_uri === 'string' ? json.token_uri : DEFAULT_TOKEN_URI;
  if (!/^https?:\/\/[^\s]+$/.test(tokenUri)) return `${shown} has a token_uri that is not an http(s) URL`;
  if (json.type === 'service_account') {
    if (typeof json.client_email !== 'string' || typeof json.private_key !== 'string') {
      return `${shown} lacks client_email or private_key`;
    }
    try {
      createPrivateKey(json.private_key);
    } catch {
      // OpenSSL's wording (DECODER routines::unsupported) tells a user nothing; the file's name does.
      return `${shown}: its private_key is not a valid PEM private key (download a new key for the service account)`;
    }
    return {
      path,
      type: 'service_account',
      clientEmail: json.client_email,
      privateKey: json.private_key,
      privateKeyId: typeof json.private_key_id === 'string' ? json.private_key_id : undefined,
      tokenUri,
    };
  }
  if (json.type === 'authorized_user') {
    if (typeof json.client_id !== 'string' || typeof json.client_secret !== 'string' || typeof json.refresh_token !== 'string') {
      return `${shown} lacks client_id, client_secret or refresh_token`;
    }
    return {
      path,
      type: 'authorized_user',
      clientId: json.client_id,
      clientSecret: json.client_secret,
      refreshToken: json.refresh_token,
      tokenUri,
    };
  }
  const type = typeof json.type === 'string' ? `type "${clip(json.type)}"` : 'no type';
  return `${shown} has ${type}; expected type "service_account" or "authorized_user"`;
}

/** `--gcp-oauth` as every command reads it: the key file relative to `cwd`, or its problem added to `problems`. */
export function gcpOauthFlag(value: string | undefined, cwd: string, problems: string[]): KeyFile | undefined {
  if (!value) return undefined;
  const k = loadKeyFile(resolve(cwd, value));
  if (typeof k !== 'string') return k;
  problems.push(`--gcp-oauth: ${k}`);
  return undefined;
}
