// The fault matrix. Every cloud call a build makes × every way it can fail:
//   (a) transient: 503, 429, 403 rateLimitExceeded and a reset connection, each once in a row, then success;
//   (b) permanent: the error that fits the call (see permanentFor), on every such call, as a missing permission would;
//   (c) operation error: for calls that return an operation, it ends DONE with an error, every time;
//   (d) hang: the request is never answered (once), and for operation calls, an operation that never reaches DONE.
// The calls are not listed here: a clean build against a fresh emulator finds them (fault-matrix.sites.ts), so a
// call the workflow starts making later gets its row. A wait on operations is one row per call it waits for.
// Every cell checks the exit code, the error line (naming the step and the cause), what is left behind, and that
// the image exists exactly when the build succeeded or the failing call ran alongside the image's creation (the VM's
// deletion does: the image, once made, is kept). Each cell has its own emulator, so cells run concurrently.
//
// The four transient errors share one cell per call (one after another on the same call, so the retry policy must
// see each through): every run builds its compute clients again, which costs ~0.5 s of CPU in google-gax, and four
// cells per call would double the file's runtime for no more coverage.
//
// The rule, and where the semantics of a call make a cell differ from it:
//
// | cell                                         | expected                                                                |
// | -------------------------------------------- | ----------------------------------------------------------------------- |
// | (a) transient, any call                      | exit 0; "retrying <call> (<status> <reason> or ECONNRESET)" for each      |
// | (b) permanent, in a step                     | exit 1; "error: <step title> failed: <call>: HTTP <status> <reason>: ..." |
// | (c) operation error, in a step               | exit 1; "error: <step title> failed: <call>: operation failed: <CODE>: ..." |
// | (d) hang, operation hang, in a step          | exit 1; 'error: step "<name>" did not finish within --timeout (5s)'      |
// | all                                          | no disk or VM left; the image only with exit 0, or when the call ran    |
// |                                              | alongside the image's creation (then the image is made and kept)        |
// | ---- exceptions ----                         |                                                                         |
// | (b) on a preflight check                     | exit 1; a 404/403 is a finding that names the flag ("zone us-central1-a |
// |                                              | does not exist in project test-project (--zone)"); anything else must   |
// |                                              | name the step or the flag, and the call and status                     |
// | (b) 403 on instances.getGuestAttributes      | exit 0: a warning, and the VM is followed on the serial console          |
// | (b) 403 on instances.getSerialPortOutput     | exit 0: a warning per failed read; the guest attributes still tell the   |
// |                                              | outcome (the build fails only when neither source can be read)          |
// | (b) 403 on storage.objects.insert (logs)     | exit 0 with warnings naming the log URL: the logs are not the product;   |
// |                                              | an unwritable bucket is caught in preflight (testIamPermissions row)    |
// | (b), (c) on instances.delete or its wait     | exit 1, and cleanup's own delete fails the same way: the VM (with its    |
// |                                              | boot disk) is left and reported with the gcloud command to delete it;   |
// |                                              | the image, made alongside the deletion, is kept (the CLI says so)       |
// | (d) on instances.delete or its wait          | exit 1 (the step's timeout); the VM goes in cleanup; the image is kept  |
// | (b), (c), (d) on disks.delete or its wait    | only cleanup deletes the data disk, after the image was made: exit 0,    |
// |                                              | the disk is left and reported with the gcloud command. A hang there is  |
// |                                              | bounded by cleanup's own limit (not --timeout: cleanup is no step; 10   |
// |                                              | min by default, 5 s here)                                               |
// | 404 on a delete (instances.delete,           | counts as deleted: exit 0, no cleanup error. The emulator still holds    |
// |   disks.delete)                              | the resource, as the 404 was injected, not true: it is the one left     |
// | (d) on storage.objects.insert                | exit 0 with a warning: the serial log is written in the background, so a |
// |                                              | stuck GCS write never holds up following the VM (the logs are not the    |
// |                                              | product); the write is abandoned after a bounded time                    |
//
// Known product bugs, kept as expected failures (it.fails) until fixed: see KNOWN_BUGS.
import { describe, expect, it } from 'vitest';
import { OPERATION_CALLS, startEmulator, vmScripts, type FaultAction } from '../emulator/index.js';
import { FAST_TUNING, runCli } from '../helpers/cli.js';
import { buildArgs, cleanBuild, env, hasFlag, WaitsOn, type Site } from './fault-matrix.sites.js';
import { expectNothingLeft, TOKEN } from './harness.js';

// Preflight also resolves the container images from this machine, over the internet: not a cloud call of the
// workflow, and slow where there is no network. --subnet makes the subnetwork lookup one of the calls.
const EXTRA = [...((await hasFlag('skip-image-check')) ? ['--skip-image-check'] : []), '--subnet=default'];
const clean = await cleanBuild(EXTRA);

const IMAGE = 'img-fm';
/**
 * Short, yet long enough for the healthy work of a step before its hang: 5 s, or three times the slowest step of
 * the clean build when the machine is so loaded that a healthy step takes longer (a fixed 5 s was seen to run out
 * before the first call of preflight on a machine running several suites at once).
 */
const TIMEOUT = `${Math.max(5, Math.ceil((3 * clean.slowestStepMs) / 1000))}s`;
const PROJECT = 'test-project';
const ZONE = 'us-central1-a';
/**
 * Four transient errors in a row need five attempts. Cleanup's own limit is short, so a hung delete costs seconds;
 * an insert cut short by --timeout is given a short while to settle (the emulator answers at once or never), so
 * that cleanup has time for its deletes after it.
 */
const TUNING = { ...FAST_TUNING, retry: { ...FAST_TUNING.retry!, maxAttempts: 6 }, insertSettleMs: 500, cleanupTimeoutMs: 5_000 };

type Kind = 'transient' | 'permanent' | 'permanent 404' | 'operation error' | 'hang' | 'operation hang';

/** Each transient error with its cause as the retry line names it. */
const TRANSIENT: ReadonlyArray<[FaultAction, string]> = [
  [{ status: 503 }, '503 backendError'],
  [{ status: 429, reason: 'rateLimitExceeded' }, '429 rateLimitExceeded'],
  [{ status: 403, reason: 'rateLimitExceeded' }, '403 rateLimitExceeded'],
  [{ reset: true }, 'ECONNRESET'],
];

/**
 * The permanent error that fits the call. Lookups of things that may not exist (zone, machine type, disk type,
 * network, subnetwork, bucket) get 404; images.get answers 404 when the name is free, so it gets 403 like the
 * project; inserts and detachDisk get 400 (an invalid request); the rest 403 (a permission the caller lacks).
 */
function permanentFor(call: string): { status: number; reason: string; message: string } {
  if (/^(zones|machineTypes|diskTypes|networks|subnetworks)\.get$|^storage\.buckets\./.test(call))
    return { status: 404, reason: 'notFound', message: `Not found (${call})` };
  if (/^(disks|instances|images)\.(insert|detachDisk)$/.test(call))
    return { status: 400, reason: 'invalid', message: `Invalid value (${call})` };
  return { status: 403, reason: 'forbidden', message: `Required permission is missing (${call})` };
}

function operationErrorFor(call: string): { code: string; message: string } {
  return call.endsWith('.insert')
    ? { code: 'QUOTA_EXCEEDED', message: "Quota 'CPUS' exceeded. Limit: 8.0 in region us-central1." }
    : { code: 'INTERNAL_ERROR', message: `Internal error (${call})` };
}

/** A preflight check that fails with 404/403 reports a finding naming its flag. */
const FINDINGS: Record<string, RegExp> = {
  'projects.get': /error: project test-project does not exist or you lack access to it \(--project-name\)/,
  'zones.get': /error: zone us-central1-a does not exist in project test-project \(--zone\)/,
  'machineTypes.get': /error: machine type n2-standard-16 does not exist in zone us-central1-a \(--machine-type\)/,
  'diskTypes.get': /error: disk type pd-ssd does not exist in zone us-central1-a \(--disk-type\)/,
  'networks.get': /error: network default does not exist in project test-project \(--network\)/,
  'subnetworks.get': /error: subnetwork default does not exist in region us-central1 \(--subnet\)/,
  'storage.buckets.testIamPermissions': /error: bucket gs:\/\/test-bucket does not exist \(--gcs-path\)/,
  // A read that fails for another reason is not a finding: the message names what was being checked, and the flag.
  'images.get': /error: preflight could not check whether image img-fm exists \(--image-name\): images\.get: HTTP 403/,
};

/** Cells that fail because of a bug in the CLI: `<site> × <kind>` → the bug. Each runs as it.fails. */
const KNOWN_BUGS: Record<string, string> = {};

interface Cell {
  kind: Kind;
  /** Added in this order; the first rule with firings left applies. */
  faults: Array<{ action: FaultAction; times: number }>;
}

const returnsOperation = (call: string): boolean => (OPERATION_CALLS as readonly string[]).includes(call);

function cellsFor(site: Site): Cell[] {
  const op = returnsOperation(site.call);
  const once = (action: FaultAction) => [{ action, times: 1 }];
  const always = (action: FaultAction) => [{ action, times: Infinity }];
  return [
    { kind: 'transient', faults: TRANSIENT.map(([action]) => ({ action, times: 1 })) },
    { kind: 'permanent', faults: always(permanentFor(site.call)) },
    ...(isDelete(site) && !site.of
      ? [{ kind: 'permanent 404' as const, faults: always({ status: 404, reason: 'notFound', message: 'The resource was not found' }) }]
      : []),
    ...(op ? [{ kind: 'operation error' as const, faults: always({ operationError: operationErrorFor(site.call) }) }] : []),
    { kind: 'hang', faults: once({ hang: true }) },
    ...(op ? [{ kind: 'operation hang' as const, faults: once({ operationHang: true }) }] : []),
  ];
}

const isDelete = (site: Site): boolean => (site.of ?? site.call).endsWith('.delete');
/** The call was made by a step that runs alongside the image's creation: the image is made whatever becomes of it. */
const besideTheImage = (site: Site): boolean => site.phase.kind === 'step' && !!site.phase.alongside?.includes('create-image');
/** What the call (or the operation waited on) is about. */
function resourceOf(site: Site): 'disk' | 'vm' | 'image' {
  const collection = (site.of ?? site.call).split('.')[0];
  return collection === 'disks' ? 'disk' : collection === 'instances' ? 'vm' : 'image';
}

interface Expected {
  code: number;
  /** Each must match stderr; NAME stands for the name of the resource the call is about. */
  stderr: RegExp[];
  absent?: RegExp[];
  /** The temporary resources left (a VM keeps its boot disk). */
  left: Array<'disk' | 'vm'>;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function expected(site: Site, cell: Cell): Expected {
  const { call, phase } = site;
  const resource = resourceOf(site);
  const kept = resource === 'image' ? [] : [resource];
  if (cell.kind === 'transient')
    return { code: 0, stderr: TRANSIENT.map(([, cause]) => new RegExp(`retrying ${esc(call)} \\(${esc(cause)}\\)`)), left: [] };
  if (cell.kind === 'permanent 404')
    return { code: 0, stderr: [new RegExp(`deleted ${resource} NAME\\n`)], absent: [/could not delete/], left: kept };

  const failed = site.of ?? call;
  const perm = permanentFor(call);
  const cause =
    cell.kind === 'operation error'
      ? `${esc(failed)}: operation failed: ${operationErrorFor(failed).code}: `
      : `${esc(call)}: HTTP ${perm.status} ${perm.reason}: `;
  const leftover = new RegExp(
    `error: could not delete ${resource} NAME: .*\\n {2}Delete it by hand: gcloud compute ${resource === 'vm' ? 'instances' : 'disks'} delete NAME --project ${PROJECT} --zone ${ZONE} --quiet`,
  );

  if (phase.kind === 'cleanup' && isDelete(site)) return { code: 0, stderr: [leftover], left: kept };
  if (phase.kind !== 'step')
    throw new Error(`no rule yet for ${site.id} (${cell.kind}), first called ${phase.kind === 'after' ? 'after the build' : 'in cleanup'}`);

  if (call === 'storage.objects.insert' && cell.kind === 'hang') {
    return {
      code: 0,
      stderr: [/warning: could not write the (serial log to GCS|logs to gs:\/\/test-bucket\/logs\/[a-z0-9-]+\/): /],
      left: [],
    };
  }
  if (cell.kind === 'hang' || cell.kind === 'operation hang') {
    return { code: 1, stderr: [new RegExp(`error: step "${esc(phase.step)}" did not finish within --timeout \\(${TIMEOUT}\\)`)], left: [] };
  }
  const title = esc(phase.title.toLowerCase());
  if (phase.step === 'preflight') {
    // A finding names the flag; any other failure must name the step or a flag, and the call and status.
    return { code: 1, stderr: [FINDINGS[call] ?? new RegExp(`^error: (?=.*(?:${title}|\\(--[a-z-]+\\)))(?=.*${cause})`, 'm')], left: [] };
  }
  if (call === 'instances.getGuestAttributes')
    return {
      code: 0,
      stderr: [new RegExp(`warning: guest attributes are unavailable \\(${cause}.*\\); following the serial console instead`)],
      left: [],
    };
  if (call === 'instances.getSerialPortOutput')
    return { code: 0, stderr: [new RegExp(`warning: could not read the serial console: ${cause}`)], left: [] };
  if (call === 'storage.objects.insert') {
    return {
      code: 0,
      stderr: [
        new RegExp(`warning: could not write the serial log to GCS: ${cause}`),
        new RegExp(`warning: could not write the logs to gs://test-bucket/logs/[a-z0-9-]+/: ${cause}`),
      ],
      left: [],
    };
  }
  const stepFailed = new RegExp(`error: ${title} failed: ${cause}`);
  if (isDelete(site)) return { code: 1, stderr: [stepFailed, leftover], left: kept };
  return { code: 1, stderr: [stepFailed], left: [] };
}

describe('the clean build the matrix is made from', () => {
  it('runs the VM deletion alongside the image creation, and finds each call of the two in its own step', () => {
    const phase = (id: string) => clean.sites.find((s) => s.id === id)?.phase;
    expect(phase('instances.delete')).toMatchObject({ step: 'delete-vm', alongside: expect.arrayContaining(['create-image']) });
    expect(phase('zoneOperations.wait(instances.delete)')).toMatchObject({ step: 'delete-vm' });
    expect(phase('images.insert')).toMatchObject({ step: 'create-image', alongside: expect.arrayContaining(['delete-vm']) });
    expect(phase('globalOperations.wait(images.insert)')).toMatchObject({ step: 'create-image' });
  });

  it('succeeds, leaves only the image, and makes every kind of call the issue names', () => {
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.leftovers).toEqual({ disks: [], instances: [], images: [`${PROJECT}/img-clean`] });
    const ids = clean.sites.map((s) => s.id);
    for (const id of [
      'projects.get',
      'zones.get',
      'images.get',
      'machineTypes.get',
      'diskTypes.get',
      'networks.get',
      'subnetworks.get',
      'storage.buckets.testIamPermissions',
      'disks.insert',
      'instances.insert',
      'images.insert',
      'instances.detachDisk',
      'instances.delete',
      'disks.delete',
      'zoneOperations.wait(disks.insert)',
      'zoneOperations.wait(disks.delete)',
      'globalOperations.wait(images.insert)',
      'instances.getSerialPortOutput',
      'instances.getGuestAttributes',
      'storage.objects.insert',
    ]) {
      expect(ids).toContain(id);
    }
  });
});

describe.concurrent.each(clean.sites.map((s) => [s.id, s] as const))('%s', (_id, site) => {
  const label = (c: Cell) => (c.kind === 'transient' ? `transient: ${TRANSIENT.map(([, cause]) => cause).join(', ')}, in a row` : c.kind);
  const cells = cellsFor(site).map((c) => [label(c), c] as const);
  const bug = ([, cell]: readonly [string, Cell]) => `${site.id} × ${cell.kind}` in KNOWN_BUGS;
  const run = async (_label: string, cell: Cell) => {
    const emu = await startEmulator({ acceptTokens: [TOKEN] });
    try {
      const match = { call: site.call, ...(site.of ? { path: WaitsOn.create(emu, site.of) } : {}) };
      for (const f of cell.faults) emu.faults.add({ match, ...f });
      // Only a hang in a step needs a short --timeout (cleanup has its own limit): elsewhere a loaded machine
      // must not make a healthy step time out.
      const hangs = (cell.kind === 'hang' || cell.kind === 'operation hang') && site.phase.kind === 'step';
      const r = await runCli(buildArgs(IMAGE, [...EXTRA, ...(hangs ? [`--timeout=${TIMEOUT}`] : [])]), { env: env(emu), tuning: TUNING });
      const runId = /\(run ([a-z0-9]{6})\)/.exec(r.stderr)?.[1];
      const names = { disk: `secondary-disk-image-${runId}-disk`, vm: `secondary-disk-image-${runId}-vm` };
      const name = esc(resourceOf(site) === 'vm' ? names.vm : names.disk);
      const want = expected(site, cell);
      const known = KNOWN_BUGS[`${site.id} × ${cell.kind}`];
      const report = `${site.id} × ${cell.kind}${known ? ` (known bug: ${known})` : ''}:\n${r.stderr}`;

      const fired = emu.faults.fired.length;
      if (cell.kind === 'transient') expect(fired, report).toBe(TRANSIENT.length);
      else expect(fired, `the fault never fired: ${report}`).toBeGreaterThan(0);
      expect(r.code, report).toBe(want.code);
      for (const re of want.stderr) expect(r.stderr, report).toMatch(new RegExp(re.source.replaceAll('NAME', name), re.flags));
      for (const re of want.absent ?? []) expect(r.stderr, report).not.toMatch(re);
      const left = emu.leftovers();
      const imageMade = want.code === 0 || besideTheImage(site);
      expect(left.images, report).toEqual(imageMade ? [`${PROJECT}/${IMAGE}`] : []);
      if (want.code !== 0 && imageMade) expect(r.stderr, report).toContain('The image was created and is kept');
      if (want.left.length === 0) {
        expect(r.stderr, report).not.toMatch(/could not delete/);
        expectNothingLeft(emu);
      } else {
        const disks = [...(want.left.includes('disk') ? [names.disk] : []), ...(want.left.includes('vm') ? [names.vm] : [])];
        expect(left.disks.sort(), report).toEqual(disks.map((d) => `${PROJECT}/${ZONE}/${d}`).sort());
        expect(left.instances, report).toEqual(want.left.includes('vm') ? [`${PROJECT}/${ZONE}/${names.vm}`] : []);
      }
    } finally {
      await emu.close();
    }
  };
  const ok = cells.filter((c) => !bug(c));
  const bugs = cells.filter(bug);
  if (ok.length) it.each(ok)('%s', run);
  if (bugs.length) it.fails.each(bugs)('%s (known bug, see KNOWN_BUGS)', run);
});

// --spot: GCE preempts the VM (the emulator does it as GCE does: a compute.instances.preempted operation, and the VM
// stopped). The build notices from the VM's status — the default --timeout of 20m would outlast the test — deletes
// the VM and the half-written disk, and retries once on fresh ones; a second preemption fails it. Nothing is left.
describe('Spot preemption', () => {
  const spotBuild = async (preemptions: number) => {
    const emu = await startEmulator({ acceptTokens: [TOKEN] });
    try {
      emu.vm.script(vmScripts.preempted({ atPhase: 'pulling' }), { times: preemptions });
      const r = await runCli(buildArgs(IMAGE, [...EXTRA, '--spot']), { env: env(emu), tuning: TUNING });
      const vm = /\b(secondary-disk-image-[a-z0-9]{6}-vm)\b/.exec(r.stderr)?.[1] ?? 'the-vm';
      const preempted = [...emu.state.operations.values()].filter((o) => o.operationType === 'compute.instances.preempted');
      const diskInserts = emu.requests.filter((q) => q.call === 'disks.insert').length;
      return { r, vm, emu, preempted, diskInserts, started: [...emu.vm.started], leftovers: emu.leftovers() };
    } finally {
      await emu.close();
    }
  };

  it('first attempt preempted: says so, deletes the VM and its disk, and the retry on fresh ones succeeds', async () => {
    const { r, vm, preempted, diskInserts, started, leftovers } = await spotBuild(1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      `warning: GCE preempted the Spot VM ${vm}; deleting it and its half-written data disk, then retrying once on a fresh VM and data disk`,
    );
    expect(preempted).toHaveLength(1);
    expect(started).toEqual([vm, vm]);
    expect(diskInserts).toBe(2);
    expect(r.stderr).not.toMatch(/could not delete/);
    expect(leftovers).toEqual({ disks: [], instances: [], images: [`${PROJECT}/${IMAGE}`] });
  });

  it('preempted again: exit 1 naming the preemption, no image, nothing left', async () => {
    const { r, vm, preempted, diskInserts, leftovers } = await spotBuild(2);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`warning: GCE preempted the Spot VM ${vm} again (2 preemptions)`);
    expect(r.stderr).toMatch(/error: the Spot VM was preempted 2 times \(--spot\)/);
    expect(preempted).toHaveLength(2);
    expect(diskInserts).toBe(2);
    expect(r.stderr).not.toMatch(/could not delete/);
    expect(leftovers).toEqual({ disks: [], instances: [], images: [] });
  });

  it('without --spot nothing watches for preemption: the VM status is never read', async () => {
    const emu = await startEmulator({ acceptTokens: [TOKEN] });
    try {
      const r = await runCli(buildArgs(IMAGE, EXTRA), { env: env(emu), tuning: TUNING });
      expect(r.code, r.stderr).toBe(0);
      expect(emu.requests.some((q) => q.call === 'instances.get' || q.call === 'zoneOperations.list')).toBe(false);
    } finally {
      await emu.close();
    }
  });
});
