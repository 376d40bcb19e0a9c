// The compute API description that the compute clients are built from, cut down to the services this tool calls.
//
// Every generated client of @google-cloud/compute requires the package's whole API description (protos.json:
// every message of every service, 11.7 MB of text) and builds a protobuf root from it when it is constructed. Both
// are synchronous work on the one thread before the first request: about 0.25 s to parse the file and 0.65 s to
// build the root. The clients this tool uses need only the types reachable from their own services (about a
// twelfth of it). `npm run build` writes that part next to this module; the first compute client loaded puts it in
// Node's module cache under the package's own path, so the client modules' `require` of protos.json receives it
// and nothing else changes in how they work (docs/architecture.md, Client library facts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComputeClientName } from './clients.js';

/** A protobuf.js JSON description: namespaces nest, each node may carry options, fields, methods, values… */
export interface DescriptionNode {
  nested?: Record<string, DescriptionNode>;
  [key: string]: unknown;
}

/** What `npm run build` writes: the cut-down description and what it was cut from. */
export interface CompactDescription {
  /** The version of @google-cloud/compute whose protos.json this was cut from. */
  computeVersion: string;
  /** The fully qualified services kept, e.g. google.cloud.compute.v1.Disks. */
  services: string[];
  description: DescriptionNode;
}

/** Defined (true) by the bundler alone (scripts/bundle.mjs); undeclared when the compiled modules run as they are. */
declare const GDIB_BUNDLED: boolean | undefined;

export const PROTOS_MODULE = '@google-cloud/compute/build/protos/protos.json';
export const COMPACT_FILE = 'compute-description.json';

/** The version of @google-cloud/compute this module resolves. */
function installedComputeVersion(): string {
  return (createRequire(import.meta.url)('@google-cloud/compute/package.json') as { version: string }).version;
}

/** `DiskTypesClient` → `google.cloud.compute.v1.DiskTypes`, the service the client is built on. */
export function serviceOf(client: ComputeClientName): string {
  return `google.cloud.compute.v1.${client.replace(/Client$/, '')}`;
}

/** The parts of protobuf.js used to find what a service needs (google-gax re-exports the library). */
interface ProtoType {
  fullName: string;
  fieldsArray?: Array<{ resolvedType: ProtoType | null }>;
  nestedArray?: ProtoType[];
}
interface ProtoRoot {
  resolveAll(): ProtoRoot;
  lookupService(name: string): {
    fullName: string;
    methodsArray: Array<{ resolvedRequestType: ProtoType | null; resolvedResponseType: ProtoType | null }>;
  };
}
export interface Protobuf {
  Root: { fromJSON(json: DescriptionNode): ProtoRoot };
}

/**
 * The description of `services` alone: each service, every type its methods take or return, and every type those
 * reach through their fields, transitively (with the types nested in them). Namespaces keep their own options.
 */
export function cutDescription(full: DescriptionNode, services: string[], protobuf: Protobuf): DescriptionNode {
  const root = protobuf.Root.fromJSON(full).resolveAll();
  const keep = new Set<string>();
  const todo: ProtoType[] = [];
  const add = (t: ProtoType | null) => {
    if (!t) return;
    const name = t.fullName.replace(/^\./, '');
    if (keep.has(name)) return;
    keep.add(name);
    todo.push(t);
  };
  for (const name of services) {
    const service = root.lookupService(name);
    keep.add(service.fullName.replace(/^\./, ''));
    for (const m of service.methodsArray) {
      add(m.resolvedRequestType);
      add(m.resolvedResponseType);
    }
  }
  for (let t = todo.pop(); t; t = todo.pop()) {
    for (const f of t.fieldsArray ?? []) add(f.resolvedType);
    for (const n of t.nestedArray ?? []) add(n);
  }
  const within = (prefix: string) => [...keep].some((k) => k.startsWith(`${prefix}.`));
  const cut = (node: DescriptionNode, prefix: string): DescriptionNode => {
    if (!node.nested) return node;
    const nested: Record<string, DescriptionNode> = {};
    for (const [key, child] of Object.entries(node.nested)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (keep.has(name)) nested[key] = child;
      else if (within(name)) nested[key] = cut(child, name);
    }
    return { ...node, nested };
  };
  return cut(full, '');
}

/** Writes the compact description for `clients` into `dir` (`npm run build`: COMPUTE_CLIENTS, into dist/gcp). */
export function writeCompactDescription(dir: string, clients: readonly ComputeClientName[]): CompactDescription {
  const require = createRequire(import.meta.url);
  const full = require(PROTOS_MODULE) as DescriptionNode;
  const { protobuf } = require('google-gax') as { protobuf: Protobuf };
  const services = clients.map(serviceOf);
  const compact: CompactDescription = {
    computeVersion: installedComputeVersion(),
    services,
    description: cutDescription(full, services, protobuf),
  };
  writeFileSync(join(dir, COMPACT_FILE), JSON.stringify(compact));
  return compact;
}

/**
 * Puts the compact description in Node's module cache as the package's protos.json, before any compute client
 * module is loaded. Nothing is done (the clients then read the whole description, as without it) when the file is
 * missing, when it was cut from another version of @google-cloud/compute than the one installed, or when
 * protos.json is loaded already. Returns whether the compact description is in place.
 */
export function useCompactDescription(file = join(dirname(fileURLToPath(import.meta.url)), COMPACT_FILE)): boolean {
  // In the npm package's bundle (scripts/bundle.mjs) protos.json is the compact description, read from this file,
  // and there is no @google-cloud/compute to resolve: nothing to put in place.
  if (typeof GDIB_BUNDLED !== 'undefined' && GDIB_BUNDLED) return true;
  const require = createRequire(import.meta.url);
  const path = require.resolve(PROTOS_MODULE);
  const cached = require.cache[path];
  if (cached) return cached.exports === compactInCache;
  if (!existsSync(file)) return false;
  const compact = JSON.parse(readFileSync(file, 'utf8')) as CompactDescription;
  if (compact.computeVersion !== installedComputeVersion()) return false;
  // Node documents adding entries to require.cache; a later require of this path returns the entry's exports.
  const entry = new Module(path);
  entry.filename = path;
  entry.loaded = true;
  entry.exports = compact.description;
  require.cache[path] = entry;
  compactInCache = compact.description;
  return true;
}

let compactInCache: DescriptionNode | undefined;
