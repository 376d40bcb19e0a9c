// Where each flag applies, and what it needs or excludes, judged from the declarations alone (docs/architecture.md,
// Flags): a flag given where it does nothing, a required one missing, two that exclude each other. Plain code, no
// zod: these problems are found before the schema is loaded, and reported with the schema's, all at once.
import { goAccepted, modesText, type FlagSet, type FlagSpec, type RawFlags, type RunMode } from './flag.js';
import { parseGoBool } from './go-bool.js';

/** The raw values a run is made of: the command line's, a --config file's, and the environment's defaults. */
export interface GivenFlags {
  /** From the command line: a flag here that does not apply to the run is an error. */
  flags: RawFlags;
  /** From a --config file (the command line overrides it): a key that does not apply is left out, since one file may serve several commands. */
  file?: RawFlags;
}

/** Whether a raw value says something: a non-empty string, a non-empty list, a boolean that is true. */
export function isGiven(spec: FlagSpec | undefined, value: string | string[] | undefined): boolean {
  if (value === undefined || !spec) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (spec.kind === 'bool') return parseGoBool(value) === true;
  return value !== '';
}

/** The mode of a build or verify run: from its command, --verify-only and --local (command line or file). */
export function runModeOf(command: 'build' | 'verify', given: GivenFlags): { mode: RunMode; verifyOnly: boolean } {
  const raw = { ...given.file, ...given.flags };
  const isTrue = (k: string) => parseGoBool(String(raw[k] ?? '')) === true;
  const verifyOnly = command === 'build' && isTrue('verify-only');
  const verifying = command === 'verify' || verifyOnly;
  const local = isTrue('local');
  return { mode: verifying ? (local ? 'verify --local' : 'verify') : local ? 'build --local' : 'build', verifyOnly };
}

/**
 * The raw flags of a run in `mode`, for the schema: the file's values that apply, the command line's, and the
 * environment's defaults where the flag applies; with every problem the declarations alone reveal.
 */
export function flagsFor(
  set: FlagSet,
  mode: RunMode,
  given: GivenFlags,
  env: Readonly<Record<string, string | undefined>>,
  opts: { verifyOnly?: boolean } = {},
): { raw: RawFlags; problems: string[] } {
  const problems: string[] = [];
  const applies = (spec: FlagSpec) => spec.appliesTo.includes(mode) || goAccepted(spec, mode, !!opts.verifyOnly);
  const raw: RawFlags = {};
  for (const [name, value] of Object.entries(given.file ?? {})) {
    const spec = set[name];
    if (value === undefined) continue;
    if (spec && applies(spec)) raw[name] = value;
  }
  for (const [name, value] of Object.entries(given.flags)) {
    const spec = set[name];
    if (value === undefined) continue;
    // A name no flag declares is left to the schema, which reports it.
    if (spec && !applies(spec)) problems.push(`--${name} does not apply to ${mode} (only to ${modesText(spec.appliesTo)})`);
    else raw[name] = value;
  }
  for (const [name, spec] of Object.entries(set)) {
    if (spec.env && raw[name] === undefined && spec.appliesTo.includes(mode) && env[spec.env]) raw[name] = env[spec.env];
  }
  const has = (name: string) => isGiven(set[name], raw[name]);
  const requiredHere = (name: string) => {
    const spec = set[name];
    return !!spec?.required && spec.appliesTo.includes(mode) && !(spec.required.unless && has(spec.required.unless));
  };
  for (const [name, spec] of Object.entries(set)) {
    if (requiredHere(name) && !has(name)) problems.push(`--${name}: required (${spec.required!.what})`);
    if (!has(name)) continue;
    for (const [other, why] of Object.entries(spec.conflicts ?? {}))
      if (has(other)) problems.push(`--${name} and --${other}: cannot be used together (${why})`);
    // A needed flag that is required here is reported as such, once.
    for (const [other, why] of Object.entries(spec.needs ?? {}))
      if (!has(other) && !requiredHere(other)) problems.push(`--${name}: needs --${other} (${why})`);
  }
  return { raw, problems };
}
