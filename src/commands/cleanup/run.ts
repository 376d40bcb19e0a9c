// `cleanup`: finds the temporary disks and VMs of builds that could not clean up after themselves (SIGKILL, a lost
// machine), older than --older-than, lists them, and deletes them unless --dry-run. VMs go first: a disk
// attached to a VM cannot be deleted.
import type { TextSink } from '../../io/render.js';
import type { Redactor } from '../../io/redact.js';
import type { CleanupPlan } from '../../config/types.js';
import { formatMs } from '../../errors.js';
import { shellCommand } from '../../io/shell-quote.js';

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
  const now = Date.now();
  const all = await inventory.list(config.zone, deps.signal);
  const old = all.filter((r) => !(now - r.createdAt < config.olderThanMs));
  deps.err.write(
    `Found ${all.length} resource(s) labelled gdib-managed=true in project ${config.projectName}, ${where}; ${old.length} older than ${formatMs(config.olderThanMs)}.\n`,
  );
  for (const r of old)
    deps.out.write(
      `${r.kind === 'vm' ? 'instance' : 'disk'}\t${r.zone}\t${r.name}\trun=${r.labels['gdib-run']}\tage=${Number.isFinite(r.createdAt) ? formatMs(now - r.createdAt) : 'unknown'}\n`,
    );
  if (config.dryRun || old.length === 0) {
    if (config.dryRun && old.length > 0) deps.err.write('Dry run: nothing was deleted.\n');
    return 0;
  }
  let failed = 0;
  for (const kind of ['vm', 'disk'] as const) {
    await Promise.all(
      old
        .filter((r) => r.kind === kind)
        .map(async (r) => {
          try {
            await inventory.delete(r, deps.signal);
            deps.err.write(`deleted ${r.kind === 'vm' ? 'instance' : 'disk'} ${r.name} (${r.zone})\n`);
          } catch (e) {
            failed++;
            const what = r.kind === 'vm' ? 'instances' : 'disks';
            deps.err.write(
              `error: could not delete ${r.name}: ${(e as Error).message}\n  Delete it by hand: ${shellCommand('gcloud', 'compute', what, 'delete', r.name, '--project', config.projectName, '--zone', r.zone, '--quiet')}\n`,
            );
          }
        }),
    );
  }
  return failed > 0 ? 1 : 0;
}
