// `doctor`: will this image work on that cluster (docs/architecture.md, Doctor)? Reads only. One line per check on
// stdout — PASS, WARN, FAIL or "CANNOT CONFIRM", what was seen, and the command that fixes it — or, with --json, one
// JSON object. Exit 0 when nothing failed (warnings and what cannot be confirmed are listed), 1 when a check failed.
// `doctor --hits` reports how often the cache was hit instead (src/commands/doctor/hits.ts).
import type { TextSink } from '../../io/render.js';
import type { Redactor } from '../../io/redact.js';
import type { RetryPolicy } from '../../gcp/retry.js';
import type { DoctorPlan } from './plan.js';
import type { CheckLine, CheckStatus } from './checks.js';

export interface DoctorDeps {
  env: Record<string, string | undefined>;
  redactor: Redactor;
  out: TextSink;
  err: TextSink;
  signal: AbortSignal;
  retry?: Partial<RetryPolicy>;
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', unknown: 'CANNOT CONFIRM' };

export function renderLine(l: CheckLine): string {
  return `${LABEL[l.status]}  ${l.check}: ${l.seen}${l.fix ? `  — fix: ${l.fix}` : ''}`;
}

export function summaryOf(lines: readonly CheckLine[]): Record<CheckStatus, number> {
  const s: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, unknown: 0 };
  for (const l of lines) s[l.status]++;
  return s;
}

export function summaryText(s: Record<CheckStatus, number>): string {
  return `${s.pass} passed, ${s.warn} warning${s.warn === 1 ? '' : 's'}, ${s.fail} failed, ${s.unknown} cannot be confirmed`;
}

export async function runDoctor(plan: DoctorPlan, deps: DoctorDeps): Promise<number> {
  const [{ findCredentials }, { createCloud }, { DEFAULT_TUNING }, { runChecks }, { workloadLines }, { hitsReport }] = await Promise.all([
    import('../../gcp/auth.js'),
    import('../../gcp/index.js'),
    import('../../builder/context.js'),
    import('./checks.js'),
    import('./workloads.js'),
    import('./hits.js'),
  ]);
  const tokens = await findCredentials({ keyFile: plan.keyFile, env: deps.env, redactor: deps.redactor });
  const cloud = createCloud(
    { project: plan.cluster.project },
    {
      env: deps.env,
      tokens,
      retry: { ...DEFAULT_TUNING.retry, ...deps.retry },
      insertSettleMs: DEFAULT_TUNING.insertSettleMs,
      redactor: deps.redactor,
    },
  );
  if (plan.hits) return hitsReport(cloud, plan, deps);

  const { lines, facts } = await runChecks(cloud, plan, deps.signal);
  if (plan.image && (plan.workloads.length || plan.namespace)) lines.push(...(await workloadLines(cloud, plan, facts, deps.signal)));
  const summary = summaryOf(lines);
  const code = summary.fail > 0 ? 1 : 0;
  if (plan.json) {
    deps.out.write(
      `${JSON.stringify({
        cluster: plan.cluster.path,
        ...(plan.nodePool ? { nodePool: plan.nodePool } : {}),
        ...(plan.image ? { image: plan.image.path } : {}),
        ok: code === 0,
        summary,
        checks: lines,
      })}\n`,
    );
    return code;
  }
  for (const l of lines) deps.out.write(`${renderLine(l)}\n`);
  deps.out.write(`${summaryText(summary)}\n`);
  return code;
}
