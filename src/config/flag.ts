// What a flag is, declared once beside the command that owns it: name, aliases, kind, default, help, validation,
// and — by its name — where it lands in the typed values (`--disk-size-gb` → `values.diskSizeGb`). Commander's
// options, --help, the zod schema, the --config file's keys and the README's flag tables are all derived from
// these declarations (docs/architecture.md, Flags). Plain data and plain functions: --help must not load zod.

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

/**
 * The ways a command runs, as a user names them: where a flag applies is a list of these. `build` and `verify` run
 * on a temporary VM; `--local` runs on this machine.
 */
export type RunMode = 'build' | 'build --local' | 'verify' | 'verify --local' | 'cleanup' | 'prune' | 'doctor' | 'doctor --hits';

/** The run modes of the build and verify commands, in the order --help and the README list them. */
export const RUN_MODES = ['build', 'build --local', 'verify', 'verify --local'] as const satisfies readonly RunMode[];
/** Every run of build and verify. */
export const EVERY_RUN: readonly RunMode[] = RUN_MODES;
/** The runs that work in a GCP project (`verify --local` makes no cloud call). */
export const IN_A_PROJECT: readonly RunMode[] = ['build', 'build --local', 'verify'];
/** The runs with a temporary VM. */
export const ON_A_VM: readonly RunMode[] = ['build', 'verify'];
/** The runs that build an image. */
export const BUILDS: readonly RunMode[] = ['build', 'build --local'];

/** A check of one value (of one item, for lists): undefined when fine, else what is expected. */
export type Check = (value: string) => string | undefined;

interface FlagBase {
  kind: FlagKind;
  help: string;
  aliases?: readonly string[];
  /** Placeholder in --help. */
  valueName?: string;
  /** When the default is not a literal value (an environment variable, or it depends): what --help shows. */
  defaultText?: string;
  /** Marks the flags this tool adds to the Go tool's. */
  isNew?: boolean;
  /** The README's words, where they say more than --help. */
  doc?: string;
  /**
   * The run modes in which the flag does something; given in any other, it is an error naming the flag and the mode
   * (except the Go tool's flags under --verify-only, which the Go tool accepted and ignored: see goAccepted).
   */
  appliesTo: readonly RunMode[];
  /** Required wherever it applies (`what` says what to give), unless the flag named by `unless` is given. */
  required?: { what: string; unless?: string };
  /** The environment variable that gives the default when the flag is not given (where the flag applies). */
  env?: string;
  /** Flags that cannot be given with this one: flag name → why. */
  conflicts?: Readonly<Record<string, string>>;
  /** Flags that must be given with this one (where they apply): flag name → why. */
  needs?: Readonly<Record<string, string>>;
}

export interface StringFlag extends FlagBase {
  kind: 'string';
  default?: string;
  check?: Check;
}
export interface IntFlag extends FlagBase {
  kind: 'int';
  default: number;
  min: number;
  max: number;
}
export interface BoolFlag extends FlagBase {
  kind: 'bool';
  default: boolean;
}
export interface ListFlag extends FlagBase {
  kind: 'list';
  check?: Check;
  /** At most this many values. */
  maxItems?: number;
}

export type FlagSpec = StringFlag | IntFlag | BoolFlag | ListFlag;
export type FlagSet = Readonly<Record<string, FlagSpec>>;

/** "disk-size-gb" → "diskSizeGb". */
export type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

type ValueOf<F extends FlagSpec> = F extends IntFlag
  ? number
  : F extends BoolFlag
    ? boolean
    : F extends ListFlag
      ? readonly string[]
      : F extends { default: string }
        ? string
        : string | undefined;

/** The validated values of a flag set, keyed by each flag's camel-cased name. */
export type FlagValues<S extends FlagSet> = { readonly [K in keyof S & string as CamelCase<K>]: ValueOf<S[K]> };

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The default as --help and the README show it. */
export function defaultShown(f: FlagSpec): string | undefined {
  if (f.env) return `$${f.env}`;
  if (f.defaultText) return f.defaultText;
  if (f.kind === 'list') return undefined;
  if (f.kind === 'string') return f.default;
  return String(f.default);
}

/**
 * The Go tool accepted each of its flags with --verify-only and ignored those a verify does not use: so does this
 * tool, for `build --verify-only` written as for the Go tool (the `verify` command, new, takes only what it uses).
 */
export function goAccepted(f: FlagSpec, mode: RunMode, verifyOnly: boolean): boolean {
  return verifyOnly && mode === 'verify' && !f.isNew && f.appliesTo.includes('build');
}

/** "build, build --local and verify". */
export function modesText(modes: readonly RunMode[]): string {
  return modes.length < 2 ? (modes[0] ?? 'nothing') : `${modes.slice(0, -1).join(', ')} and ${modes.at(-1)!}`;
}

/** Where a flag applies, as --help and the README say it; empty when it applies to every run of its command. */
export function whereText(f: FlagSpec, all: readonly RunMode[]): string {
  if (all.every((m) => f.appliesTo.includes(m))) return '';
  const go = !f.isNew && f.appliesTo.includes('build') && !f.appliesTo.includes('verify');
  return `${modesText(f.appliesTo)} only${go ? '; --verify-only accepts and ignores it, as the Go tool did' : ''}`;
}

/** Every name (canonical and aliases) of a flag set → its canonical name and spec. */
export function byName(set: FlagSet): ReadonlyMap<string, { name: string; spec: FlagSpec }> {
  const out = new Map<string, { name: string; spec: FlagSpec }>();
  for (const [name, spec] of Object.entries(set)) {
    out.set(name, { name, spec });
    for (const a of spec.aliases ?? []) out.set(a, { name, spec });
  }
  return out;
}

/** Raw values as read from the command line or a config file, keyed by canonical flag name. */
export type RawFlags = Partial<Record<string, string | string[]>>;
