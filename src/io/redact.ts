// Removes secrets from every text the tool prints or uploads: the tokens and keys it knows of, and anything
// shaped like a Google OAuth access token or a PEM private key, even ones it was never told about.
const PATTERNS: readonly RegExp[] = [
  /ya29\.[0-9A-Za-z_.~+/=-]+/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  // A private key as it appears inside JSON (newlines escaped).
  /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:\\n|[A-Za-z0-9+/=\s])*?(?:-----END [A-Z ]*PRIVATE KEY-----)?/g,
  /(?<=[Bb]earer\s+)[0-9A-Za-z_.~+/=-]{16,}/g,
  /(?<="(?:access_token|refresh_token|id_token|private_key)"\s*:\s*")[^"]+/g,
];

export const REDACTED = '[REDACTED]';

export class Redactor {
  private readonly secrets = new Set<string>();

  addSecret(secret: string | undefined): void {
    if (!secret || secret.length < 8) return;
    this.secrets.add(secret);
    // A PEM key may also be seen with its newlines escaped (inside JSON).
    if (secret.includes('\n')) this.secrets.add(secret.replace(/\n/g, '\\n'));
    for (const line of secret.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) this.secrets.add(line);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    for (const pattern of PATTERNS) out = out.replace(pattern, REDACTED);
    return out;
  }
}
