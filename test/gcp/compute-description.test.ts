// The compact compute API description (src/gcp/compute-description.ts): what the build writes must describe every
// service the tool calls exactly as the package's whole description does, and the compute clients must be built
// from it — or, when it does not fit the installed package, from the whole description as before.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyOfTheTool, type ToolCopy } from '../helpers/tool-copy.js';
import { COMPUTE_CLIENTS } from '../../src/gcp/clients.js';
import {
  COMPACT_FILE,
  cutDescription,
  PROTOS_MODULE,
  serviceOf,
  type CompactDescription,
  type DescriptionNode,
} from '../../src/gcp/compute-description.js';

const require = createRequire(import.meta.url);
const BUILT = join('dist/gcp', COMPACT_FILE);

interface Reflected {
  toJSON(): unknown;
  fullName: string;
  fieldsArray?: Array<{ resolvedType: Reflected | null }>;
  nestedArray?: Reflected[];
  methodsArray?: Array<{ resolvedRequestType: Reflected | null; resolvedResponseType: Reflected | null }>;
}
interface Root {
  resolveAll(): Root;
  lookup(name: string): Reflected | null;
}
const { protobuf } = require('google-gax') as { protobuf: { Root: { fromJSON(json: DescriptionNode): Root } } };
const full = require(PROTOS_MODULE) as DescriptionNode;
const fullRoot = protobuf.Root.fromJSON(full).resolveAll();

/** Every type a service reaches through its methods and their fields, by full name, read from the whole description. */
function reachable(service: string): string[] {
  const seen = new Set<string>();
  const visit = (t: Reflected | null) => {
    if (!t || seen.has(t.fullName)) return;
    seen.add(t.fullName);
    for (const f of t.fieldsArray ?? []) visit(f.resolvedType);
    for (const n of t.nestedArray ?? []) visit(n);
  };
  for (const m of fullRoot.lookup(service)!.methodsArray!) {
    visit(m.resolvedRequestType);
    visit(m.resolvedResponseType);
  }
  return [...seen];
}

/** Runs an ES module in a fresh Node process from `cwd` (the repository root) and returns what it printed as JSON. */
function inNode(script: string, cwd = process.cwd()): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const copies: ToolCopy[] = [];
afterAll(() => copies.forEach((c) => c.dispose()));
/** Another copy of the built tool, beside the same node_modules, whose compact description is `description`. */
function copyWith(description: string | null): string {
  const copy = copyOfTheTool({ [`gcp/${COMPACT_FILE}`]: description });
  copies.push(copy);
  return copy.dir;
}

const CLIENT_SCRIPT = `
import { Clients } from './dist/gcp/clients.js';
const clients = new Clients({ getToken: async () => ({ token: 'x', expiresAt: Date.now() + 60000 }) }, { compute: { host: '127.0.0.1', port: 9, protocol: 'http' } });
const disks = await clients.compute('DisksClient');
console.log(JSON.stringify({
  disksService: disks._protos.lookup('google.cloud.compute.v1.Disks') !== null,
  otherService: disks._protos.lookup('google.cloud.compute.v1.Addresses') !== null,
}));`;

describe('the compact compute API description', () => {
  it('is written by the build, from the installed @google-cloud/compute, for exactly the clients used', () => {
    expect(existsSync(BUILT)).toBe(true);
    const built = JSON.parse(readFileSync(BUILT, 'utf8')) as CompactDescription;
    expect(built.computeVersion).toBe((require('@google-cloud/compute/package.json') as { version: string }).version);
    expect(built.services).toEqual(COMPUTE_CLIENTS.map(serviceOf));
  });

  const built = existsSync(BUILT) ? (JSON.parse(readFileSync(BUILT, 'utf8')) as CompactDescription) : undefined;
  let root: Root | undefined;
  const compactRoot = () => (root ??= protobuf.Root.fromJSON(built!.description));

  it('resolves on its own: no type it names is missing', () => {
    expect(() => compactRoot().resolveAll()).not.toThrow();
  });

  it.each(COMPUTE_CLIENTS.map(serviceOf))('describes %s and every type it reaches exactly as the whole description', (service) => {
    const names = reachable(service);
    expect(names.length).toBeGreaterThan(2);
    for (const name of [`.${service}`, ...names])
      expect(compactRoot().lookup(name)?.toJSON(), name).toEqual(fullRoot.lookup(name)!.toJSON());
  });

  it('leaves out the services not asked for, and what only they use', () => {
    const cut = protobuf.Root.fromJSON(cutDescription(full, ['google.cloud.compute.v1.Projects'], protobuf as never));
    expect(cut.lookup('google.cloud.compute.v1.Projects')).not.toBeNull();
    expect(cut.lookup('google.cloud.compute.v1.Disks')).toBeNull();
    expect(cut.lookup('google.cloud.compute.v1.InsertDiskRequest')).toBeNull();
    expect(JSON.stringify(built!.description).length).toBeLessThan(JSON.stringify(full).length / 5);
  });

  it('is what a compute client is built from', () => {
    expect(inNode(CLIENT_SCRIPT)).toEqual({ disksService: true, otherService: false });
  });

  it('is not used when it was cut from another version of the package, or is missing: the client gets the whole description', () => {
    const stale = copyWith(JSON.stringify({ ...built!, computeVersion: '0.0.1' }));
    expect(inNode(CLIENT_SCRIPT, stale)).toEqual({ disksService: true, otherService: true });
    expect(inNode(CLIENT_SCRIPT, copyWith(null))).toEqual({ disksService: true, otherService: true });
    // The same copy with the description as built does use it: the copy itself is not what made the difference.
    expect(inNode(CLIENT_SCRIPT, copyWith(JSON.stringify(built)))).toEqual({ disksService: true, otherService: false });
  });

  it('is not put in place once the whole description is loaded', () => {
    const r = inNode(`
import { createRequire } from 'node:module';
createRequire(import.meta.url)(${JSON.stringify(PROTOS_MODULE)});
const { useCompactDescription } = await import('./dist/gcp/compute-description.js');
console.log(JSON.stringify({ compact: useCompactDescription() }));`);
    expect(r).toEqual({ compact: false });
  });
});
