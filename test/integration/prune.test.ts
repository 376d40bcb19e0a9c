// `prune`, the real bin/ against the emulator (compute, GKE and each cluster's Kubernetes API): what it keeps and
// why, deprecation then deletion across two runs, an unreadable cluster that blocks deletion, a dry run that spends
// nothing, foreign images left alone, the JSON document, and an interrupt that leaves every image in a known state.
import { afterEach, describe, expect, it } from 'vitest';
import { describeRecord, recordFor } from '../../src/builder/image-record.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { until } from '../helpers/until.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';

const TOKEN = 'ya29.prune-test-token-0123456789';
const DAY = 86_400_000;
const P = 'test-project';
const RECORD = describeRecord(recordFor(['nginx:1'], { 'nginx:1': `sha256:${'a'.repeat(64)}` }, 'linux/amd64', true, '0.1.0'));
const uri = (name: string, project = P) => `projects/${project}/global/images/${name}`;

/** Images of family `cache` that this tool built, `days` old each (cache-1 the oldest). */
function family(ages: number[], over: Record<string, Partial<NonNullable<EmulatorOptions['images']>[number]>> = {}) {
  return ages.map((days, i) => ({
    project: P,
    name: `cache-${i + 1}`,
    family: 'cache',
    description: RECORD,
    createdAt: Date.now() - days * DAY,
    ...over[`cache-${i + 1}`],
  }));
}

/** Seeded as prune's own deprecation would have left it, a month ago. */
const deprecatedLongAgo = () => ({
  deprecated: { state: 'DEPRECATED' as const, deprecated: new Date(Date.now() - 30 * DAY).toISOString() },
});

let emu: Emulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(opts: EmulatorOptions): Promise<Emulator> {
  emu = await startEmulator({ acceptTokens: [TOKEN], ...opts });
  return emu;
}

const envOf = (e: Emulator) => ({
  CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: e.computeEndpoint,
  CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER: e.storageHost,
  CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER: e.storageHost,
  CLOUDSDK_AUTH_ACCESS_TOKEN: TOKEN,
});

const prune = (e: Emulator, ...args: string[]) =>
  spawnCli(['prune', `--project-name=${P}`, '--image-family-name=cache', ...args], envOf(e)).done;
const stateOf = (e: Emulator, name: string) =>
  e.state.images.has(`${P}/${name}`) ? (e.state.images.get(`${P}/${name}`)!.deprecated?.state ?? 'ACTIVE') : 'gone';
const states = (e: Emulator) =>
  Object.fromEntries([...e.state.images.values()].filter((i) => i.project === P).map((i) => [i.name, stateOf(e, i.name)]));

describe('prune', () => {
  it('keeps the newest, the young and every image a pool, ComputeClass or exact allowlist uses — in any location or project', async () => {
    const e = await start({
      images: [
        ...family([80, 70, 60, 50, 40, 30, 3]),
        { project: P, name: 'foreign-old', family: 'cache', description: 'made by hand', createdAt: Date.now() - 400 * DAY },
      ],
    });
    // A standard cluster in another location of the project: a pool uses cache-1; a ComputeClass names cache-3.
    await e.gke.addCluster({
      name: 'eu',
      location: 'europe-west4',
      nodePools: [{ name: 'cached', secondaryBootDisks: [{ diskImage: uri('cache-1'), mode: 'CONTAINER_IMAGE_CACHE' }] }],
      kubernetes: { computeClasses: [{ name: 'warm', secondaryBootDisks: [{ diskImageName: 'cache-3', project: P }] }] },
    });
    // A cluster of another project whose pool uses cache-2 (full URL), and an Autopilot cluster whose allowlist names
    // cache-4 exactly and cache-5 only through a wildcard (which pins nothing).
    await e.gke.addCluster({
      project: 'ml-prod',
      name: 'prod',
      location: 'us-east1',
      nodePools: [{ name: 'gpu', secondaryBootDisks: [{ diskImage: `https://www.googleapis.com/compute/v1/${uri('cache-2')}` }] }],
    });
    await e.gke.addCluster({
      name: 'auto',
      autopilot: true,
      kubernetes: {
        allowlists: [
          { name: 'exact', patterns: [uri('cache-4')] },
          { name: 'wild', patterns: [`projects/${P}/global/images/cache-.*`, `projects/${P}/global/images/cache-5.*`] },
        ],
      },
    });

    const r = await prune(e, '--keep=1', '--cluster-project=ml-prod', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(states(e)).toEqual({
      'cache-1': 'ACTIVE',
      'cache-2': 'ACTIVE',
      'cache-3': 'ACTIVE',
      'cache-4': 'ACTIVE',
      'cache-5': 'DEPRECATED',
      'cache-6': 'DEPRECATED',
      'cache-7': 'ACTIVE',
      'foreign-old': 'ACTIVE',
    });
    expect(e.state.images.get(`${P}/cache-5`)!.deprecated).toMatchObject({ replacement: uri('cache-7'), deprecated: expect.any(String) });

    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      v: 1,
      command: 'prune',
      state: 'succeeded',
      project: P,
      family: 'cache',
      keep: 1,
      minAge: '7d',
      delete: false,
      dryRun: false,
      clusterProjects: [P, 'ml-prod'],
      unreadable: [],
      replacement: uri('cache-7'),
    });
    expect(doc.clusters.sort()).toEqual([
      'projects/ml-prod/locations/us-east1/clusters/prod',
      `projects/${P}/locations/europe-west4/clusters/eu`,
      `projects/${P}/locations/us-central1/clusters/auto`,
    ]);
    const byName = Object.fromEntries(doc.images.map((i: { name: string }) => [i.name, i]));
    expect(Object.keys(byName)).toEqual(['cache-7', 'cache-6', 'cache-5', 'cache-4', 'cache-3', 'cache-2', 'cache-1', 'foreign-old']);
    expect(byName['cache-7']).toMatchObject({
      action: 'keep',
      outcome: 'kept',
      reasons: ['newest (1 of --keep 1)', expect.stringMatching(/^young \(created 3d ago/)],
    });
    expect(byName['cache-1']).toMatchObject({
      action: 'keep',
      reasons: [`in use by projects/${P}/locations/europe-west4/clusters/eu/nodePools/cached`],
    });
    expect(byName['cache-2']).toMatchObject({ reasons: ['in use by projects/ml-prod/locations/us-east1/clusters/prod/nodePools/gpu'] });
    expect(byName['cache-3']).toMatchObject({
      reasons: [`in use by ComputeClass warm in projects/${P}/locations/europe-west4/clusters/eu`],
    });
    expect(byName['cache-4']).toMatchObject({
      reasons: [`in use by GCPResourceAllowlist exact in projects/${P}/locations/us-central1/clusters/auto`],
    });
    expect(byName['cache-5']).toMatchObject({
      action: 'deprecate',
      outcome: 'deprecated',
      state: 'ACTIVE',
      builtByTool: true,
      status: { state: 'DEPRECATED', replacement: uri('cache-7') },
    });
    expect(byName['foreign-old']).toMatchObject({ action: 'ignore', outcome: 'unchanged', builtByTool: false });
    // Nothing of the foreign image was asked for but the family listing.
    expect(e.requests.some((q) => q.path.includes('foreign-old'))).toBe(false);
  });

  it('two runs: one deprecates, a later one with --delete deletes what has been deprecated for --min-age', async () => {
    const e = await start({ images: family([40, 30, 20, 10]) });
    const first = await prune(e, '--keep=2', '--delete');
    expect(first.code).toBe(0);
    expect(states(e)).toEqual({ 'cache-1': 'DEPRECATED', 'cache-2': 'DEPRECATED', 'cache-3': 'ACTIVE', 'cache-4': 'ACTIVE' });
    expect(first.stdout).toMatch(
      /^deprecate\tcache-1\tolder than the images kept; replacement projects\/test-project\/global\/images\/cache-4$/m,
    );
    expect(first.stderr).toContain('2 kept, 2 deprecated, 0 deleted in family cache in project test-project.');
    expect(e.requests.some((q) => q.call === 'images.delete')).toBe(false);

    // Deprecated just now: not for --min-age (7d) yet.
    const again = await prune(e, '--keep=2', '--delete');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^wait\tcache-1\tDEPRECATED for 0m; deleted once deprecated for --min-age 7d$/m);
    expect(e.requests.filter((q) => q.call === 'images.deprecate').length).toBe(2);

    const later = await prune(e, '--keep=2', '--delete', '--min-age=1ms');
    expect(later.code).toBe(0);
    expect(states(e)).toEqual({ 'cache-3': 'ACTIVE', 'cache-4': 'ACTIVE' });
    expect(later.stderr).toContain('deleted cache-1');
  });

  it('an image deprecated long ago is deleted in one run; without --delete it waits', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 10], { 'cache-1': long }) });
    const plain = await prune(e, '--keep=1');
    expect(plain.stdout).toMatch(/^wait\tcache-1\tDEPRECATED for 30d; deleted only with --delete$/m);
    expect(stateOf(e, 'cache-1')).toBe('DEPRECATED');
    expect((await prune(e, '--keep=1', '--delete')).code).toBe(0);
    expect(stateOf(e, 'cache-1')).toBe('gone');
  });

  it('--keep counts ACTIVE images: a newer image deprecated by hand does not make prune empty the family', async () => {
    // cache-2, the newest, was deprecated by hand; cache-1 is what the family resolves to.
    const e = await start({ images: family([40, 30], { 'cache-2': { deprecated: { state: 'DEPRECATED' } } }) });
    const first = await prune(e, '--keep=1');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^keep\tcache-1\tnewest \(1 of --keep 1\)$/m);
    expect(e.state.images.get(`${P}/cache-2`)!.deprecated).toMatchObject({ state: 'DEPRECATED', replacement: uri('cache-1') });
    expect((await prune(e, '--keep=1', '--delete', '--min-age=1ms')).code).toBe(0);
    expect(states(e)).toEqual({ 'cache-1': 'ACTIVE' });
  });

  it('a pool naming an image by project number or by resource name keeps it; a reference it cannot read blocks deletion', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 80, 70, 10], { 'cache-1': long, 'cache-2': long, 'cache-3': long }) });
    const number = e.state.projects.get(P)!.number;
    await e.gke.addCluster({
      name: 'refs',
      nodePools: [
        { name: 'by-number', secondaryBootDisks: [{ diskImage: `projects/${number}/global/images/cache-1` }] },
        { name: 'by-resource-name', secondaryBootDisks: [{ diskImage: `//compute.googleapis.com/${uri('cache-2')}` }] },
      ],
    });
    const r = await prune(e, '--keep=1', '--delete');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^keep\tcache-1\tin use by projects\/test-project\/locations\/us-central1\/clusters\/refs\/nodePools\/by-number$/m,
    );
    expect(states(e)).toEqual({ 'cache-1': 'DEPRECATED', 'cache-2': 'DEPRECATED', 'cache-4': 'ACTIVE' });

    // A reference in no form prune knows may name any image of the family: nothing is deleted on a guess.
    await e.gke.addCluster({ name: 'odd', nodePools: [{ name: 'p', secondaryBootDisks: [{ diskImage: 'images/cache-1' }] }] });
    e.gke.clusters.get(`projects/${P}/locations/us-central1/clusters/refs`)!.nodePools.length = 0;
    const odd = await prune(e, '--keep=1', '--delete');
    expect(odd.code).toBe(1);
    expect(odd.stderr).toContain(
      `error: could not read the image reference "images/cache-1" of projects/${P}/locations/us-central1/clusters/odd/nodePools/p (not a form prune understands)`,
    );
    expect(odd.stdout).toMatch(/^wait\tcache-1\tdeletion withheld: could not read the image reference "images\/cache-1"/m);
    expect(e.requests.filter((q) => q.call === 'images.delete').length).toBe(1);
  });

  it('--delete reads each image again just before deleting it, and skips one that changed since it was listed', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 80, 70, 60, 10], { 'cache-1': long, 'cache-2': long, 'cache-3': long, 'cache-4': long }) });
    // The reads after the family's listing are held; meanwhile cache-1 is made ACTIVE again, cache-2's record is
    // replaced and cache-3 is deprecated anew (its time now): the plan still says to delete all three.
    e.faults.add({ match: { call: 'container.projects.locations.clusters.list' }, times: 1, action: { delayMs: 800 } });
    const run = spawnCli(['prune', `--project-name=${P}`, '--image-family-name=cache', '--keep=1', '--delete', '--json'], envOf(e));
    await until(() => e.faults.fired.some((f) => f.call === 'container.projects.locations.clusters.list'), 'the cluster listing');
    delete e.state.images.get(`${P}/cache-1`)!.deprecated;
    e.state.images.get(`${P}/cache-2`)!.description = 'made by hand';
    e.state.images.get(`${P}/cache-3`)!.deprecated = { state: 'DEPRECATED', deprecated: new Date().toISOString() };
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(states(e)).toEqual({ 'cache-1': 'ACTIVE', 'cache-2': 'DEPRECATED', 'cache-3': 'DEPRECATED', 'cache-5': 'ACTIVE' });
    const byName = Object.fromEntries(JSON.parse(r.stdout).images.map((i: { name: string }) => [i.name, i]));
    expect(byName['cache-1']).toMatchObject({
      action: 'delete',
      outcome: 'skipped',
      why: 'not deleted: it is ACTIVE again since it was listed',
    });
    expect(byName['cache-2']).toMatchObject({
      outcome: 'skipped',
      why: "not deleted: its description no longer holds this tool's record since it was listed",
    });
    expect(byName['cache-3']).toMatchObject({
      outcome: 'skipped',
      why: expect.stringMatching(/^not deleted: it was deprecated again \(DEPRECATED for 0m\)/),
    });
    expect(byName['cache-4']).toMatchObject({ outcome: 'deleted' });
    expect(e.requests.filter((q) => q.call === 'images.delete').map((q) => q.path)).toEqual([expect.stringContaining('/cache-4')]);

    // Without --json, each skip is said on stderr.
    e.state.images.get(`${P}/cache-1`)!.deprecated = long.deprecated;
    e.faults.add({ match: { call: 'container.projects.locations.clusters.list' }, times: 1, action: { delayMs: 800 } });
    const text = spawnCli(['prune', `--project-name=${P}`, '--image-family-name=cache', '--keep=1', '--delete'], envOf(e));
    await until(() => e.faults.fired.filter((f) => f.call === 'container.projects.locations.clusters.list').length === 2, 'the listing');
    delete e.state.images.get(`${P}/cache-1`)!.deprecated;
    const t = await text.done;
    expect(t.stderr).toContain('skipped cache-1: it is ACTIVE again since it was listed; not deleted\n');
    expect(t.stderr).toMatch(/, 1 skipped \(unchanged\) in family cache/);
    expect(stateOf(e, 'cache-1')).toBe('ACTIVE');
  });

  it('a cluster whose node pools cannot be read blocks every deletion, names it, exits 1', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 80, 10], { 'cache-1': long }) });
    await e.gke.addCluster({ name: 'locked', location: 'asia-east1' });
    e.faults.add({
      match: { path: '/clusters/locked/nodePools' },
      times: 100,
      action: { status: 403, reason: 'forbidden', message: 'denied' },
    });
    const r = await prune(e, '--keep=1', '--delete');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: could not read projects/${P}/locations/asia-east1/clusters/locked (`);
    expect(r.stdout).toMatch(
      /^wait\tcache-1\tdeletion withheld: could not read projects\/test-project\/locations\/asia-east1\/clusters\/locked/m,
    );
    expect(e.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(stateOf(e, 'cache-1')).toBe('DEPRECATED');
    // Deprecation, reversible and harmless to a pool that uses the image, still happens.
    expect(stateOf(e, 'cache-2')).toBe('DEPRECATED');
  });

  it('a cluster list that cannot be read (a --cluster-project) blocks deletion too', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 10], { 'cache-1': long }) });
    e.faults.add({
      match: { path: '/projects/other-project/locations/-/clusters' },
      times: 100,
      action: { status: 403, reason: 'forbidden', message: 'denied' },
    });
    const r = await prune(e, '--delete', '--cluster-project=other-project', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      state: 'failed',
      unreadable: [expect.stringContaining('the clusters of project other-project')],
      withheld: expect.any(String),
    });
    expect(stateOf(e, 'cache-1')).toBe('DEPRECATED');
  });

  it('a cluster list GKE gives with missingZones blocks deletion: the clusters there are unknown', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 10], { 'cache-1': long }) });
    e.gke.unreachableZones.add('europe-west4-b');
    const r = await prune(e, '--delete', '--json');
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ state: 'failed', unreadable: [expect.stringContaining('europe-west4-b')] });
    expect(e.requests.some((q) => q.call === 'images.delete')).toBe(false);
    expect(stateOf(e, 'cache-1')).toBe('DEPRECATED');
  });

  it('a Kubernetes API it may not read is a note, not a block: pools are still the record', async () => {
    const e = await start({ images: family([40, 30, 10]) });
    await e.gke.addCluster({ name: 'rbac', kubernetes: { forbidden: new Set(['computeclasses']) } });
    const r = await prune(e, '--keep=1');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /note: could not read the Kubernetes API of projects\/test-project\/locations\/us-central1\/clusters\/rbac \(.*403/,
    );
    expect(states(e)).toEqual({ 'cache-1': 'DEPRECATED', 'cache-2': 'DEPRECATED', 'cache-3': 'ACTIVE' });
  });

  it('with --delete, a Kubernetes API it cannot reach (a private endpoint) blocks deletion: a ComputeClass there is unseen', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 80, 10], { 'cache-1': long }) });
    await e.gke.addCluster({
      name: 'private',
      privateEndpoint: true,
      kubernetes: { computeClasses: [{ name: 'warm', secondaryBootDisks: [{ diskImageName: 'cache-1', project: P }] }] },
    });
    const r = await prune(e, '--keep=1', '--delete', '--json');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: could not read the Kubernetes API of projects\/test-project\/locations\/us-central1\/clusters\/private \(.*ECONNREFUSED.*\), where a ComputeClass/m,
    );
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      state: 'failed',
      unreadable: [expect.stringContaining('the Kubernetes API of')],
      withheld: expect.any(String),
    });
    expect(e.requests.some((q) => q.call === 'images.delete')).toBe(false);
    // Deprecation still happens, as for a cluster whose node pools cannot be read.
    expect(states(e)).toEqual({ 'cache-1': 'DEPRECATED', 'cache-2': 'DEPRECATED', 'cache-3': 'ACTIVE' });

    // Without --delete it stays a note.
    const plain = await prune(e, '--keep=1');
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(
      /^note: could not read the Kubernetes API of projects\/test-project\/locations\/us-central1\/clusters\/private/m,
    );
  });

  it('--dry-run prints the plan and only reads', async () => {
    const long = deprecatedLongAgo();
    const e = await start({ images: family([90, 40, 30, 10], { 'cache-1': long }) });
    await e.gke.addCluster({ name: 'c', nodePools: [{ name: 'p' }] });
    const r = await prune(e, '--keep=1', '--delete', '--dry-run');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^delete\tcache-1\t/m);
    expect(r.stdout).toMatch(/^deprecate\tcache-2\t/m);
    expect(r.stderr).toContain('Dry run: nothing was changed (3 change(s) planned in family cache in project test-project).');
    expect(e.requests.length).toBeGreaterThan(0);
    expect(e.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    expect(states(e)).toEqual({ 'cache-1': 'DEPRECATED', 'cache-2': 'ACTIVE', 'cache-3': 'ACTIVE', 'cache-4': 'ACTIVE' });
    const json = JSON.parse((await prune(e, '--keep=1', '--delete', '--dry-run', '--json')).stdout);
    expect(json.state).toBe('planned');
    expect(json.images.map((i: { outcome: string }) => i.outcome)).toEqual(['kept', 'planned', 'planned', 'planned']);
  });

  it('--keep and --min-age: the newest N and everything younger are kept', async () => {
    const e = await start({ images: family([100, 60, 40, 30, 20]) });
    const r = await prune(e, '--keep=2', '--min-age=45d');
    expect(r.code).toBe(0);
    expect(states(e)).toEqual({
      'cache-1': 'DEPRECATED',
      'cache-2': 'DEPRECATED',
      'cache-3': 'ACTIVE',
      'cache-4': 'ACTIVE',
      'cache-5': 'ACTIVE',
    });
    expect(r.stdout).toMatch(/^keep\tcache-3\tyoung \(created 40d ago, --min-age 45d\)$/m);
  });

  it('interrupted, it finishes the change in flight and skips the rest: every image is in a known state', async () => {
    const e = await start({ images: family([60, 50, 40, 10]) });
    e.faults.add({ match: { call: 'images.deprecate' }, times: 1, action: { delayMs: 800 } });
    const run = spawnCli(['prune', `--project-name=${P}`, '--image-family-name=cache', '--keep=1', '--json'], envOf(e));
    await until(() => e.faults.fired.some((f) => f.call === 'images.deprecate'), 'the first images.deprecate');
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    const doc = JSON.parse(r.stdout);
    expect(doc.state).toBe('interrupted');
    const outcomes = Object.fromEntries(doc.images.map((i: { name: string; outcome: string }) => [i.name, i.outcome]));
    expect(outcomes).toEqual({ 'cache-4': 'kept', 'cache-3': 'deprecated', 'cache-2': 'skipped', 'cache-1': 'skipped' });
    // The emulator agrees with the report: the one in flight was finished, the others never asked for.
    expect(states(e)).toEqual({ 'cache-1': 'ACTIVE', 'cache-2': 'ACTIVE', 'cache-3': 'DEPRECATED', 'cache-4': 'ACTIVE' });
    expect(e.requests.filter((q) => q.call === 'images.deprecate').length).toBe(1);
  });

  it('bad input: one line naming the flag, exit 2, no cloud call', async () => {
    const e = await start({});
    for (const [args, line] of [
      [['--keep=0'], 'error: --keep: expected a whole number from 1 to 1000'],
      [['--min-age=0'], 'error: --min-age: expected a positive duration'],
      [['--cluster-project=Not_A_Project'], 'error: --cluster-project:'],
    ] as const) {
      const r = await prune(e, ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(line);
    }
    const missing = await spawnCli(['prune', `--project-name=${P}`], envOf(e)).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: --image-family-name: required');
    expect(e.requests).toEqual([]);
  });
});
