// Rewrites argv so commander reads Go-style flags too: "-flag=value" and "-flag value" become
// "--flag=value" / "--flag value", aliases become their canonical name, and a bare boolean "--flag"
// becomes "--flag=true" (so "--flag=false" and "--flag" share one option that always takes a value).
import type { FlagSpec } from './flag.js';

export function normalizeArgv(argv: readonly string[], flags: ReadonlyMap<string, { name: string; spec: FlagSpec }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([a-zA-Z][\w-]*)(=[\s\S]*)?$/.exec(arg);
    const def = m ? flags.get(m[1]!) : undefined;
    if (!m || !def) {
      out.push(arg === '-help' ? '--help' : arg);
      continue;
    }
    const value = m[2];
    if (def.spec.kind === 'bool' && value === undefined) out.push(`--${def.name}=true`);
    else out.push(`--${def.name}${value ?? ''}`);
  }
  return out;
}
