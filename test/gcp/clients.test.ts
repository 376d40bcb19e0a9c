// The compute clients are loaded one module each (src/gcp/clients.ts): every client the adapters ask for must be
// in the module its name maps to, and be the very class the package root exports. A new version of
// @google-cloud/compute that moves its files fails here, not in a user's build.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { COMPUTE_CLIENT_LOADERS, COMPUTE_CLIENTS, computeClientModule, type ComputeClientName } from '../../src/gcp/clients.js';

const require = createRequire(import.meta.url);

/** Every client name the adapters pass to Clients.compute(), read from their source. */
function clientsUsed(): string[] {
  const names = new Set<string>();
  for (const file of readdirSync('src/gcp').filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(`src/gcp/${file}`, 'utf8');
    for (const m of text.matchAll(/'([A-Z][A-Za-z]+Client)'/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

describe('compute client modules', () => {
  it('finds the clients the adapters use, each one of COMPUTE_CLIENTS', () => {
    expect(clientsUsed()).toEqual(expect.arrayContaining(['ProjectsClient', 'DiskTypesClient', 'ZoneOperationsClient', 'InstancesClient']));
    expect(clientsUsed().filter((n) => !(COMPUTE_CLIENTS as readonly string[]).includes(n))).toEqual([]);
  });

  it.each(clientsUsed())('%s is loaded from its own module, the same class as the package exports', (name) => {
    const path = computeClientModule(name as ComputeClientName);
    expect(path).toMatch(/^@google-cloud\/compute\/build\/src\/v1\/[a-z_]+_client\.js$/);
    const mod = require(path) as Record<string, unknown>;
    expect(typeof mod[name]).toBe('function');
    expect(mod[name]).toBe((require('@google-cloud/compute') as Record<string, unknown>)[name]);
  });

  it.each([...COMPUTE_CLIENTS])('the loader of %s imports that module, the one a bundler sees', async (name) => {
    const source = readFileSync('src/gcp/clients.ts', 'utf8');
    expect(source).toContain(`  ${name}: () => import('${computeClientModule(name)}'),\n`);
    const mod = await COMPUTE_CLIENT_LOADERS[name]();
    expect(typeof mod[name]).toBe('function');
  });
});
