// --config FILE: a YAML or JSON file with the same keys as the flags (so CI keeps the list of images in the
// repository). Values are turned into the strings the command line would have given, so the same schema checks
// them with the same messages; flags given on the command line override the file.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { readSmallFile } from '../io/safe-file.js';
import { byName, type FlagSet, type RawFlags } from './flag.js';
import { clip, shownPath } from './rules.js';

/** Far above any real list of flags and images. */
export const CONFIG_FILE_MAX_BYTES = 1024 * 1024;

/** The keys of the file are the names of `flags` (aliases too), without dashes. */
export async function loadConfigFile(path: string, cwd: string, flags: FlagSet): Promise<RawFlags> {
  const names = byName(flags);
  const full = resolve(cwd, path);
  const shown = shownPath(full);
  // A FIFO, a device or a huge file is refused at once rather than read forever (src/io/safe-file.ts).
  const read = readSmallFile(full, CONFIG_FILE_MAX_BYTES);
  if ('problem' in read) throw new UsageError([`--config: ${shown} ${read.problem}`]);
  const text = read.text;
  let doc: unknown;
  try {
    // JSON is YAML, so one parser reads both; it is loaded only when --config is used.
    const { parse } = await import('yaml');
    doc = parse(text, { uniqueKeys: true, prettyErrors: false });
  } catch (err) {
    throw new UsageError([`--config: ${shown} is not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new UsageError([`--config: ${shown} must hold a mapping of flag names to values`]);
  const out: RawFlags = {};
  const problems: string[] = [];
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const def = names.get(key);
    if (!def || def.name === 'config') {
      problems.push(`--config: ${shown}: unknown key "${clip(key)}" (keys are flag names without dashes, see --help)`);
      continue;
    }
    const scalar = (v: unknown): string | undefined =>
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
    if (def.spec.kind === 'list') {
      const items = (Array.isArray(value) ? value : [value]).map(scalar);
      if (items.some((i) => i === undefined)) problems.push(`--config: ${shown}: "${clip(key)}" must be a value or a list of values`);
      else out[def.name] = items as string[];
    } else {
      const v = scalar(value);
      if (v === undefined) problems.push(`--config: ${shown}: "${clip(key)}" must be a single value`);
      else out[def.name] = v;
    }
  }
  if (problems.length) throw new UsageError(problems);
  return out;
}
