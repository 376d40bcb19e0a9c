// Bundles the agent with typed options compiled in (test/rig/agent-entry.ts), as `npm run build` bundles the shipped one.
import { buildSync } from 'esbuild';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AgentOptions } from '../../src/vm/agent/context.js';

const cache = new Map<string, string>();
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function agentWithOptions(opts: AgentOptions): string {
  const key = JSON.stringify(opts);
  const cached = cache.get(key);
  if (cached !== undefined) return cached;
  const out = buildSync({
    entryPoints: [fileURLToPath(new URL('./agent-entry.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node18',
    write: false,
    define: { __RIG_AGENT_OPTIONS__: key, __GDIB_VERSION__: JSON.stringify(version) },
    logLevel: 'silent',
  });
  const text = out.outputFiles[0]?.text ?? '';
  cache.set(key, text);
  return text;
}
