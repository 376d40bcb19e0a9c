// A copy of the built tool (bin/, dist/, package.json, beside the repository's node_modules) with some of its
// build outputs changed: the product as it would be with another or no such file, run beside the real one.
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ToolCopy {
  /** The copy's root: run `node bin/gke-disk-image-builder.js` or import `./dist/…` from here. */
  dir: string;
  bin: string;
  dispose: () => void;
}

/** `changes`: paths under dist/ → their new content, or null to remove the file. */
export function copyOfTheTool(changes: Record<string, string | null>): ToolCopy {
  const dir = mkdtempSync(join(tmpdir(), 'gdib-tool-copy-'));
  for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(dir, part), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const [path, content] of Object.entries(changes)) {
    if (content === null) rmSync(join(dir, 'dist', path));
    else writeFileSync(join(dir, 'dist', path), content);
  }
  return { dir, bin: join(dir, 'bin/gke-disk-image-builder.js'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
