// This package's version, and what `npm run build` recorded about the build, read once: src/ and dist/ both sit
// one level below package.json, and the build writes dist/build-info.json (scripts/build-info.mjs). Only node:fs,
// so --help and --version stay quick.
import { readFileSync } from 'node:fs';

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** What `npm run build` records. */
export interface BuildInfo {
  /** The full commit hash, `+dirty` appended when the work tree had changes; `unknown` outside git. */
  commit: string;
  /** The disk format the VM side writes (`DISK_FORMAT_VERSION`, docs/architecture.md, Image record). */
  diskFormat: string;
}

/** The build's record; `unknown` for what it lacks (running from src/ under the test runner: no build). */
export function buildInfo(file: URL | string = new URL('./build-info.json', import.meta.url)): BuildInfo {
  let info: Record<string, unknown> = {};
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    // No record: every field is unknown.
  }
  const field = (v: unknown) => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : 'unknown');
  return { commit: field(info.commit), diskFormat: field(info.diskFormat) };
}

/**
 * What `--version` prints: the version alone on the first line (what scripts read), then the commit the code was
 * built from and the version of the disk format it writes.
 */
export function versionText(info: BuildInfo = buildInfo()): string {
  return `${VERSION}\ncommit: ${info.commit}\ndisk format: ${info.diskFormat}`;
}
