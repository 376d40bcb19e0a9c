// What a flag is, declared once beside the command that owns it: name, aliases, kind, default, help, validation,
// and — by its name — where it lands in the typed values (`--disk-size-gb` → `values.diskSizeGb`). Commander's
// options, --help, the zod schema, the --config file's keys and the README's flag tables are all derived from
// these declarations (docs/architecture.md, Flags). Plain data and plain functions: --help must not load zod.

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

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
  /** The README's words, where they say more than --help: the meaning, and the default column (e.g. "required"). */
  doc?: string;
  docDefault?: string;
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
  if (f.defaultText) return f.defaultText;
  if (f.kind === 'list') return undefined;
  if (f.kind === 'string') return f.default;
  return String(f.default);
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
