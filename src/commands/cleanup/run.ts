// `cleanup`: finds the temporary disks and VMs of builds that could not clean up after themselves (SIGKILL, a lost
// machine), lists them, and deletes those `planCleanup` allows (their build's deadline passed, older than
// --older-than, in a zone that was read) unless --dry-run. VMs go first: a disk attached to a VM cannot be deleted.
// Exit 0; 1 when a delete failed or a zone could not be read; 130 once interrupted, with what may be left and the
// commands that delete it (docs/architecture.md, Exit codes and errors).
import type { TextSink } from '../../io/render.js';
import type { Redactor } from '../../io/redact.js';
import type { CleanupPlan } from '../../config/types.js';
import type { ManagedResource } from '../../gcp/inventory.js';
import { formatMs } from '../../errors.js';
import { shellCommand } from '../../io/shell-quote.js';
import { planCleanup, type Judged } from './planner.js';

export async function runCleanup(
  config: CleanupPlan,
  deps: { env: Record<string, string | undefined>; redactor: Redactor; out: TextSink; err: TextSink; signal: AbortSignal },
): Promise<number> {
  const [{ findCredentials }, { createCloud }, { DEFAULT_TUNING }] = await Promise.all([
    import('../../gcp/auth.js'),
    import('../../gcp/index.js'),
    import('../../builder/context.js'),
  ]);
  const tokens = await findCredentials({ keyFile: config.keyFile, env: deps.env, redactor: deps.redactor });
  const inventory = createCloud(
    { project: config.projectName, zone: config.zone },
    { env: deps.env, tokens, retry: DEFAULT_TUNING.retry, insertSettleMs: DEFAULT_TUNING.insertSettleMs },
  ).inventory();
  const where = config.zone ? `zone ${config.zone}` : 'all zones';
  const listing = await inventory.list(config.zone, deps.signal);
  const now = Date.now();
  const judged = planCleanup(listing, now, config.olderThanMs);
  const old = judged.filter((j) => j.verdict.action === 'delete').map((j) => j.resource);
  deps.err.write(
    `Found ${listing.resources.length} resource(s) labelled gdib-managed=true in project ${config.projectName}, ${where}; ${old.length} to delete (older than ${formatMs(config.olderThanMs)}, their builds over).\n`,
  );
  for (const j of judged) {
    const why = leftAlone(j);
    if (why)
      deps.err.write(
        `left alone: ${kindName(j.resource)} ${j.resource.name} (${j.resource.zone}): ${why}: ${byHand(j.resource, config)}\n`,
      );
  }
  for (const r of old)
    deps.out.write(
      `${kindName(r)}\t${r.zone}\t${r.name}\trun=${r.labels['gdib-run']}\tage=${Number.isFinite(r.createdAt) ? formatMs(now - r.createdAt) : 'unknown'}\n`,
    );
  if (config.dryRun && old.length > 0) deps.err.write('Dry run: nothing was deleted.\n');
  const failed = config.dryRun ? 0 : await deleteAll(old, inventory, config, deps);
  if (listing.unreachable.length > 0) {
    const zones = listing.unreachable;
    deps.err.write(
      `error: could not read ${zones.length === 1 ? 'zone' : 'zones'} ${zones.join(', ')} (Compute Engine reported ${zones.length === 1 ? 'it' : 'them'} unreachable): what is there was not listed, and nothing there was deleted; run cleanup again later\n`,
    );
  }
  return failed > 0 || listing.unreachable.length > 0 ? 1 : 0;
}

/** Deletes them, VMs first; returns how many failed. Once interrupted, says what may be left and throws. */
async function deleteAll(
  old: ManagedResource[],
  inventory: { delete(r: ManagedResource, signal: AbortSignal): Promise<void> },
  config: CleanupPlan,
  deps: { err: TextSink; signal: AbortSignal },
): Promise<number> {
  let failed = 0;
  const left: ManagedResource[] = [];
  for (const kind of ['vm', 'disk'] as const) {
    const batch = old.filter((r) => r.kind === kind);
    if (deps.signal.aborted) {
      left.push(...batch);
      continue;
    }
    await Promise.all(
      batch.map(async (r) => {
        try {
          await inventory.delete(r, deps.signal);
          deps.err.write(`deleted ${kindName(r)} ${r.name} (${r.zone})\n`);
        } catch (e) {
          // Stopped by Ctrl-C or SIGTERM, not failed: GCE goes on with a delete it was sent.
          if (deps.signal.aborted) {
            left.push(r);
            return;
          }
          failed++;
          deps.err.write(`error: could not delete ${r.name}: ${(e as Error).message}\n  Delete it by hand: ${byHand(r, config)}\n`);
        }
      }),
    );
  }
  if (deps.signal.aborted) {
    if (left.length > 0) {
      deps.err.write(
        `Interrupted: ${left.length} resource(s) may still exist (a delete already sent goes on in Compute Engine); run cleanup again, or delete them by hand:\n`,
      );
      for (const r of left) deps.err.write(`  ${byHand(r, config)}\n`);
    }
    throw deps.signal.reason;
  }
  return failed;
}

/** Why a resource is left alone, as printed; undefined when it is deleted, young (counted only) or in an unread zone. */
function leftAlone({ verdict: v }: Judged): string | undefined {
  if (v.action === 'delete') return undefined;
  switch (v.why) {
    case 'running':
      return `its build may still be running, until ${new Date(v.until).toISOString()} (its gdib-deadline label); if you know it has ended, delete it by hand`;
    case 'deadline-unreadable':
      return `its build's gdib-deadline label (${v.value}) is not a time, so the build may still be running; if you know it has ended, delete it by hand`;
    case 'age-unknown':
      return 'no creation time, so its age is unknown (counted as young); if you know it is a leftover, delete it by hand';
    case 'young':
    case 'unreachable':
      return undefined;
  }
}

const kindName = (r: ManagedResource): string => (r.kind === 'vm' ? 'instance' : 'disk');

function byHand(r: ManagedResource, config: CleanupPlan): string {
  const what = r.kind === 'vm' ? 'instances' : 'disks';
  return shellCommand('gcloud', 'compute', what, 'delete', r.name, '--project', config.projectName, '--zone', r.zone, '--quiet');
}
