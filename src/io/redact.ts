// The one redaction rule of the tool (docs/architecture.md, Redaction), used by the CLI for everything it prints or
// uploads and by the VM agent for every line it writes. It imports nothing, so the agent's bundle can carry it.
//
// A secret is removed in every form it takes in text: as is, base64 (standard and URL-safe, alone or inside a longer
// base64 text such as the Basic value of `user:password` or `oauth2accesstoken:TOKEN`), URL-encoded and JSON-escaped.
// Anything shaped like a Google access token, a PEM private key, a bearer token or a signed URL's signature is
// removed even when nobody registered it.

/** What a secret is replaced with. */
export const REDACTED = '[REDACTED]';

/** Shorter secrets are ignored: two or three characters would match ordinary words everywhere. */
export const MIN_SECRET_LENGTH = 4;

const PATTERNS: readonly [RegExp, string][] = [
  [/ya29\.[0-9A-Za-z_.~+/=-]+/g, REDACTED],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, REDACTED],
  // A private key as it appears inside JSON (newlines escaped), possibly cut short.
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----(?:\\n|[A-Za-z0-9+/=\s])*?(?:-----END [A-Z ]*PRIVATE KEY-----)?/g, REDACTED],
  [/(?<=[Bb]earer\s+)[0-9A-Za-z_.~+/=-]{16,}/g, REDACTED],
  [/(?<="(?:access_token|refresh_token|id_token|private_key|password|client_secret)"\s*:\s*")(?:[^"\\]|\\.)+/g, REDACTED],
  // Signed URLs (a registry's blob redirect, a GCS or S3 signed URL): the query values that grant access.
  [
    /(?<=[?&](?:x-goog-signature|x-goog-credential|x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|access_token|token)=)[^&\s"'#]+/gi,
    REDACTED,
  ],
];

/**
 * Removes secrets from text. Register each secret the tool learns (tokens, passwords, key material) with
 * `addSecret` before anything that could contain it is printed; `redact` then removes every form of it.
 */
export class Redactor {
  /** Every form of every secret, longest first, so that a whole form wins over a part of it. */
  private forms: string[] = [];
  private readonly known = new Set<string>();

  /**
   * Registers a secret (shorter than MIN_SECRET_LENGTH: ignored). `username`, when the secret is a password,
   * also registers the Basic form of `username:secret` as a whole.
   */
  addSecret(secret: string | undefined, options: { username?: string } = {}): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    const key = `${options.username ?? ''}\0${secret}`;
    if (this.known.has(key)) return;
    this.known.add(key);
    const all = new Set([...this.forms, ...secretForms(secret, options)]);
    this.forms = [...all].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  }
}

/** Removes `secrets` (in all their forms) and secret-shaped text from `text`: a one-off Redactor. */
export function redact(text: string, secrets: Iterable<string>): string {
  const r = new Redactor();
  for (const s of secrets) r.addSecret(s);
  return r.redact(text);
}

/** Every form in which `secret` can appear in text (none when it is shorter than MIN_SECRET_LENGTH). */
export function secretForms(secret: string, options: { username?: string } = {}): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const bytes = utf8(secret);
  const forms = new Set<string>([secret, ...textForms(secret)]);
  // A multi-line secret (a PEM key) may be seen one line at a time.
  for (const line of secret.split(/\r?\n/)) if (line.length >= 40 && !line.startsWith('-----')) forms.add(line);
  const wholes = [bytes, utf8(`oauth2accesstoken:${secret}`)];
  if (options.username !== undefined) wholes.push(utf8(`${options.username}:${secret}`));
  for (const whole of wholes) for (const b64 of base64Variants(base64(whole))) forms.add(b64);
  // Inside a longer base64 text the secret starts at one of three bit alignments; in each, the characters that
  // depend on the secret's bytes alone are the same whatever surrounds it.
  for (let shift = 0; shift < 3; shift++) for (const core of base64Variants(base64Core(bytes, shift))) forms.add(core);
  for (const form of [...forms]) for (const t of textForms(form)) forms.add(t);
  forms.delete('');
  return [...forms].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/**
 * URL-encoded (as a path or query component, and as a form: `!'()~` escaped, `+` for spaces; upper- and lower-case
 * escapes) and JSON-escaped (`\/` and `\uXXXX` variants).
 */
function textForms(s: string): string[] {
  const url = encodeURIComponent(s);
  const form = url.replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const json = JSON.stringify(s).slice(1, -1);
  return [
    url,
    url.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    form,
    form.replace(/%20/g, '+'),
    json,
    json.replace(/\//g, '\\/'),
    json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  ];
}

/** Standard and URL-safe alphabets, with and without padding. */
function base64Variants(b64: string): string[] {
  const bare = b64.replace(/=+$/, '');
  const urlSafe = b64.replace(/\+/g, '-').replace(/\//g, '_');
  return [b64, bare, urlSafe, urlSafe.replace(/=+$/, '')];
}

/** The base64 characters that `bytes` alone determine when `shift` bytes (0–2) of anything precede them. */
function base64Core(bytes: Uint8Array, shift: number): string {
  const padded = new Uint8Array(shift + bytes.length);
  padded.set(bytes, shift);
  const all = base64(padded).replace(/=+$/, '');
  const startBit = shift * 8;
  const endBit = startBit + bytes.length * 8;
  const first = Math.ceil(startBit / 6);
  const last = Math.floor(endBit / 6); // exclusive: the character holding the bits after the secret is left out
  return all.slice(first, last);
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63]! + ALPHABET[(n >> 12) & 63]!;
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63]! : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63]! : '=';
  }
  return out;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
