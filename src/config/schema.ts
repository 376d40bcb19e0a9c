// The schema: derived from a command's flag declarations (a zod object, strict, so a key no flag declares is an
// error), it turns the raw strings of the command line, the config file and the environment's defaults into typed
// values, each problem naming its flag. Each command's plan (src/commands/*/plan.ts) turns the values into a run plan.
// Loaded only once the input is to be validated (zod costs time).
import { z } from 'zod';
import { camelCase, type FlagSet, type FlagSpec, type FlagValues, type RawFlags } from './flag.js';
import { parseGoBool } from './go-bool.js';
import { loadKeyFile } from './key-file.js';
export { loadKeyFile };

function fieldFor(f: FlagSpec): z.ZodType {
  const checked = (check?: (v: string) => string | undefined) =>
    z.string().superRefine((v, ctx) => {
      const problem = check?.(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
  switch (f.kind) {
    case 'string':
      return f.default === undefined ? checked(f.check).optional() : checked(f.check).default(f.default);
    case 'int': {
      const { min, max } = f;
      return z
        .string()
        .transform((v, ctx) => {
          if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
            ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
            return z.NEVER;
          }
          return Number(v);
        })
        .default(f.default);
    }
    case 'bool':
      return z
        .string()
        .transform((v, ctx) => {
          const b = parseGoBool(v);
          if (b === undefined) {
            ctx.addIssue({ code: 'custom', message: 'expected true or false' });
            return z.NEVER;
          }
          return b;
        })
        .default(f.default);
    case 'list': {
      const items = z.array(z.string()).superRefine((values, ctx) => {
        for (const v of values) {
          const problem = f.check?.(v);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }
      });
      return (f.maxItems === undefined ? items : items.max(f.maxItems, `at most ${f.maxItems} values`)).default([]);
    }
  }
}

/** The values of a flag set from raw flags, or the problems, each as "--flag: what is expected". */
export function parseFlags<S extends FlagSet>(set: S, raw: RawFlags): { values?: FlagValues<S>; problems: string[] } {
  const schema = z.strictObject(Object.fromEntries(Object.entries(set).map(([name, f]) => [name, fieldFor(f)])));
  const r = schema.safeParse(raw);
  if (!r.success) {
    const problems = r.error.issues.map((i) =>
      i.code === 'unrecognized_keys'
        ? `unknown flag(s): ${i.keys.map((k) => `--${k}`).join(', ')}`
        : `--${String(i.path[0])}: ${i.message}`,
    );
    return { problems };
  }
  const values = Object.fromEntries(Object.entries(r.data).map(([k, v]) => [camelCase(k), v])) as FlagValues<S>;
  return { values, problems: [] };
}

export interface Environment {
  [key: string]: string | undefined;
}

/** Freezes a plan and everything in it. */
export function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const value of Object.values(obj)) deepFreeze(value);
    Object.freeze(obj);
  }
  return obj;
}
