// The handler of `build` and `verify` (docs/architecture.md, Handlers and the host): the flags (and a --config file)
// become the run plan, a local run's preconditions are checked, then the run is composed — credentials, the cloud
// adapters, the renderer, the cleanup registry — and run under the build's interrupt policy. Everything past the
// plan is loaded with `await import()`, so bad input never loads a Google library.
import { UsageError } from '../../errors.js';
import { usageExit, withInterrupts, type Host } from '../../io/host.js';
import { writeRunResult } from '../../io/result-text.js';
import type { RawFlags } from '../../config/flag.js';
import { diskKindOf, isImageRun, isLocalRun, runOf, type Run, type RunPlan } from '../../config/types.js';
import type { CleanupRegistry } from '../../builder/cleanup.js';
import { BUILD_FLAGS } from './flags.js';

export interface BuildRequest {
  command: 'build' | 'verify';
  flags: RawFlags;
  positionals: string[];
}

export async function buildHandler(request: BuildRequest, host: Host): Promise<number> {
  const { io, err } = host;
  let plan: RunPlan;
  try {
    const flags = request.flags;
    let file: RawFlags | undefined;
    if (typeof flags.config === 'string') {
      const { loadConfigFile } = await import('../../config/file.js');
      file = await loadConfigFile(flags.config, io.cwd, BUILD_FLAGS);
    }
    // zod is loaded only now: --help and commander's own errors don't pay for it.
    const { parseRunPlan } = await import('./plan.js');
    plan = parseRunPlan({ flags, ...(file ? { file } : {}) }, io.env, {
      command: request.command,
      cwd: io.cwd,
      positionals: request.positionals,
    });
    if (isLocalRun(runOf(plan))) {
      // A local build or verify needs Linux, root, loop devices and a few packages: say so before anything starts.
      const { localPreconditions } = await import('../../local/preconditions.js');
      const problems = await localPreconditions();
      if (problems.length) throw new UsageError(problems.map((p) => `--local: ${p}`));
    }
  } catch (e) {
    return usageExit(err, e, 'Run "gke-disk-image-builder --help" for the flags.');
  }
  return execute(plan, host);
}

async function execute(plan: RunPlan, host: Host): Promise<number> {
  const { io, redactor, out, err, rawErr } = host;
  const config = runOf(plan);
  let registry: CleanupRegistry | undefined;
  const policy = { kind: 'clean-up' as const, left: () => [...(registry?.inProgress() ?? []), ...(registry?.pending() ?? [])] };
  return withInterrupts(host, policy, async (signal) => {
    let render: import('../../io/render.js').Renderer | undefined;
    try {
      const [
        { runBuild, usesCloud, CleanupRegistry: Registry },
        { createCloud },
        { createRenderer },
        { DEFAULT_TUNING },
        { createTokenProvider, findCredentials },
      ] = await Promise.all([
        import('../../builder/index.js'),
        import('../../gcp/index.js'),
        import('../../io/render.js'),
        import('../../builder/context.js'),
        import('../../gcp/auth.js'),
      ]);
      // Credentials are looked for once, before anything reaches the cloud: with none, one line and exit 2.
      const auth = { keyFile: config.keyFile, env: io.env, redactor };
      const tokens = usesCloud(plan) ? await findCredentials(auth) : createTokenProvider(auth);
      registry = new Registry();
      const { json, quiet, logLevel } = config.output;
      render = createRenderer(rawErr, { live: !!io.isTTY && !io.env.CI, quiet, ...(json ? { json: out } : {}) });
      const emit = render;
      const tuning = io.tuning ?? {};
      const cloud = createCloud(cloudScope(config), {
        env: io.env,
        tokens,
        insertSettleMs: tuning.insertSettleMs ?? DEFAULT_TUNING.insertSettleMs,
        retry: { ...DEFAULT_TUNING.retry, ...tuning.retry },
        redactor,
        hooks: {
          onRetry: (call, attempt, info, delayMs) =>
            emit({ type: 'retry', call, attempt, cause: [info.status, info.reason ?? info.code].filter(Boolean).join(' '), delayMs }),
        },
      });
      const diagnostics = logLevel === 'off' ? undefined : { level: logLevel, sink: err };
      const ended = await runBuild(plan, {
        env: io.env,
        cloud,
        emit,
        redactor,
        signal,
        tuning,
        cleanup: registry,
        diagnostics,
        warnings: io.warnings,
        ...(isImageRun(config) && config.cluster
          ? {
              clusterChecks: (await import('../doctor/for-build.js')).clusterChecksFor(
                cloud,
                config.cluster,
                config.projectName,
                diskKindOf(config),
              ),
            }
          : {}),
      });
      render.close();
      return writeRunResult(plan, ended, { out, err }, { json: !!json, quiet });
    } catch (e) {
      render?.close();
      if (e instanceof UsageError) return usageExit(err, e);
      // Not failureExit: an interrupted build has returned its result above, so what reaches here is a bug.
      err.write(`error: unexpected: ${(e as Error)?.message ?? String(e)}\n`);
      if (io.env.GDIB_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
      return 1;
    }
  });
}

/** Where a run's cloud adapters work. */
function cloudScope(run: Run): { project?: string; zone?: string } {
  switch (run.kind) {
    case 'vm-build':
    case 'vm-verify':
      return { project: run.projectName, zone: run.zone };
    case 'local-build':
      return { project: run.projectName };
    case 'local-archive':
    case 'local-verify':
      return {};
  }
}
