// The command line: commander wiring and rendering only. `main(argv, io)` returns the exit code; the bin shim
// sets process.exitCode. The Google client libraries are loaded only after the input is known to be good.
import { Command, CommanderError, Option, type OutputConfiguration } from 'commander';
import { normalizeArgv } from './config/argv.js';
import { clip } from './config/rules.js';
import {
  byName,
  camelCase,
  defaultShown,
  RUN_MODES,
  whereText,
  type FlagSet,
  type FlagSpec,
  type RawFlags,
  type RunMode,
} from './config/flag.js';
import { BUILD_FLAGS } from './commands/build/flags.js';
import { CLEANUP_FLAGS } from './commands/cleanup/flags.js';
import { PRUNE_FLAGS } from './commands/prune/flags.js';
import { DOCTOR_FLAGS } from './commands/doctor/flags.js';
import { VERIFY_ARGUMENT, VERIFY_FLAGS } from './commands/verify/flags.js';
import { isLocalRun, runOf, type Run, type RunPlan } from './config/types.js';
import { exitCodeOf, InterruptedError, UsageError } from './errors.js';
import { Redactor } from './io/redact.js';
import { sanitizeText } from './io/sanitize.js';
import type { TextSink } from './io/render.js';
import type { Tuning } from './builder/context.js';
import type { BuildResult } from './builder/events.js';
import type { CleanupRegistry } from './builder/cleanup.js';
import { ProcessWarnings } from './io/warnings.js';
import { versionText } from './version.js';

type SignalName = 'SIGINT' | 'SIGTERM';
export interface SignalSource {
  on(event: SignalName, fn: () => void): unknown;
  off(event: SignalName, fn: () => void): unknown;
}

export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  env: Record<string, string | undefined>;
  cwd: string;
  signals: SignalSource;
  /** Test seam: faster polling and retries. */
  tuning?: Partial<Tuning>;
  /** A third Ctrl-C exits at once. */
  forceExit?: (code: number) => void;
  /** stderr is a terminal (a live status line is drawn unless $CI is set). */
  isTTY?: boolean;
  /** Process warnings, kept off the terminal; a build writes them to its diagnostic log. */
  warnings?: ProcessWarnings;
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const redactor = new Redactor();
  // Everything printed is redacted, and its control characters but newline and tab escaped (src/io/sanitize.ts):
  // error lines quote registries, APIs and the VM's console. Only the renderer writes escape sequences of its own
  // (the live status line), to `rawErr`, and escapes the text it draws itself.
  const out: TextSink = { write: (t) => io.stdout.write(sanitizeText(redactor.redact(t))) };
  const rawErr: TextSink = { write: (t) => io.stderr.write(redactor.redact(t)) };
  const err: TextSink = { write: (t) => rawErr.write(sanitizeText(t)) };
  let request: { command: CommandName; flags: RawFlags; positionals: string[] } | undefined;
  const program = buildProgram(
    (command, flags, positionals) => {
      request = { command, flags, positionals };
    },
    { writeOut: (t: string) => out.write(t), writeErr: () => undefined, outputError: () => undefined },
  );
  // "build" is the default command: flags alone (and a bare --help) mean build.
  const { args, named } = withCommandFirst(normalizeArgv(argv, ALL_FLAGS));
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      const cmd = program.commands.find((c) => c.name() === args[0]);
      const stray = e.code === 'commander.excessArguments' && cmd ? strayArguments(cmd) : [];
      const flags =
        args[0] === 'cleanup' ? CLEANUP_FLAGS : args[0] === 'prune' ? PRUNE_FLAGS : args[0] === 'doctor' ? DOCTOR_FLAGS : BUILD_FLAGS;
      err.write(`${cmd && stray.length ? strayLine(cmd, stray, named) : commanderLine(e, args, flags)}\n`);
      return 2;
    }
    throw e;
  }
  if (!request) return 0;
  if (request.command === 'cleanup') return cleanup(request.flags, io, redactor, out, err);
  if (request.command === 'prune') return prune(request.flags, io, redactor, out, err);
  if (request.command === 'doctor') return doctor(request.flags, io, redactor, out, err);
  let plan: RunPlan;
  try {
    const flags = request.flags;
    let file: RawFlags | undefined;
    if (typeof flags.config === 'string') {
      const { loadConfigFile } = await import('./config/file.js');
      file = await loadConfigFile(flags.config, io.cwd, BUILD_FLAGS);
    }
    // zod is loaded only now: --help and commander's own errors don't pay for it.
    const { parseRunPlan } = await import('./commands/build/plan.js');
    plan = parseRunPlan({ flags, ...(file ? { file } : {}) }, io.env, {
      command: request.command,
      cwd: io.cwd,
      positionals: request.positionals,
    });
    if (isLocalRun(runOf(plan))) {
      // A local build or verify needs Linux, root, loop devices and a few packages: say so before anything starts.
      const { localPreconditions } = await import('./local/preconditions.js');
      const problems = await localPreconditions();
      if (problems.length) throw new UsageError(problems.map((p) => `--local: ${p}`));
    }
  } catch (e) {
    if (e instanceof UsageError) {
      for (const p of e.problems) err.write(`error: ${p}\n`);
      err.write('Run "gke-disk-image-builder --help" for the flags.\n');
      return 2;
    }
    throw e;
  }
  return execute(plan, io, redactor, out, err, rawErr);
}

async function execute(plan: RunPlan, io: CliIo, redactor: Redactor, out: TextSink, err: TextSink, rawErr: TextSink): Promise<number> {
  const config = runOf(plan);
  const controller = new AbortController();
  let registry: CleanupRegistry | undefined;
  let interrupts = 0;
  const onSignal = (name: SignalName) => () => {
    interrupts++;
    if (interrupts === 1) {
      err.write(`\n${name} received: stopping and deleting the temporary resources (press Ctrl-C again to see what is left)\n`);
      controller.abort(new InterruptedError(name));
    } else if (interrupts === 2) {
      const left = [...(registry?.inProgress() ?? []), ...(registry?.pending() ?? [])];
      if (left.length === 0) err.write('Nothing is left to delete; finishing.\n');
      else {
        err.write('Still deleting; if you stop now, delete these by hand:\n');
        for (const t of left) err.write(`  ${t.command}\n`);
        err.write('Press Ctrl-C once more to exit at once.\n');
      }
    } else {
      io.forceExit?.(130);
    }
  };
  const sigint = onSignal('SIGINT');
  const sigterm = onSignal('SIGTERM');
  io.signals.on('SIGINT', sigint);
  io.signals.on('SIGTERM', sigterm);
  let render: import('./io/render.js').Renderer | undefined;
  try {
    const [
      { runBuild, usesCloud, CleanupRegistry: Registry },
      { createCloud },
      { createRenderer },
      { DEFAULT_TUNING },
      { createTokenProvider, findCredentials },
    ] = await Promise.all([
      import('./builder/index.js'),
      import('./gcp/index.js'),
      import('./io/render.js'),
      import('./builder/context.js'),
      import('./gcp/auth.js'),
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
    const { result, error } = await runBuild(plan, {
      env: io.env,
      cloud,
      emit,
      redactor,
      signal: controller.signal,
      tuning,
      cleanup: registry,
      diagnostics,
      warnings: io.warnings,
    });
    render.close();
    if (error) {
      err.write(`error: ${error.message}\n`);
      const tail = result.error?.consoleTail;
      if (tail) {
        err.write(
          tail.length === 0
            ? `The VM's serial console had no output (${result.logs}serial-port-1.log).\n`
            : `The VM's serial console, last ${tail.length} lines (all of it: ${result.logs}serial-port-1.log):\n`,
        );
        for (const l of tail) err.write(`  ${l}\n`);
      }
      if (result.image?.created) imageKept(result.image.uri, result, out, err, config.output.json);
      if (result.leftovers.length > 0)
        err.write(`${result.leftovers.length} temporary resource(s) could not be deleted; see the commands above.\n`);
      return exitCodeOf(error);
    }
    if (result.leftovers.length > 0) {
      err.write(
        `warning: the image is fine, but ${result.leftovers.length} temporary resource(s) could not be deleted and cost money until you run:\n`,
      );
      for (const l of result.leftovers) err.write(`  ${l.command}\n`);
    }
    if (json) return 0; // the result event was the last line on stdout
    out.write(`${successText(plan, result)}\n`);
    if (result.k8sManifests) err.write(`Kubernetes manifests written to ${result.k8sManifests}\n`);
    if (result.next && !quiet) {
      err.write(`\nNext: a node pool whose nodes get the images preloaded:\n\n${result.next.gcloud}\n\n`);
      err.write(
        `Then check that it will work (versions, image streaming, IAM, allowlists; add --workload=FILE for your pods):\n\n${result.next.doctor}\n\n`,
      );
      err.write(`Terraform (google_container_node_pool):\n\n${result.next.terraform}\n\n`);
      err.write(
        `Autopilot: allow images of this project as secondary boot disks with this GCPResourceAllowlist:\n\n${result.next.autopilotAllowlist}\n\n`,
      );
      err.write(
        `and put this nodeSelector in the pod spec, so that the pods run on nodes that have the disk:\n\n${result.next.autopilotNodeSelector}\n`,
      );
      err.write(
        `\nOld images of the family pile up (GCE never deletes one): see what prune would deprecate, keeping every image a cluster uses:\n\n${result.next.prune}\n`,
      );
    }
    return 0;
  } catch (e) {
    render?.close();
    if (e instanceof UsageError) {
      for (const p of e.problems) err.write(`error: ${p}\n`);
      return 2;
    }
    err.write(`error: unexpected: ${(e as Error)?.message ?? String(e)}\n`);
    if (io.env.GDIB_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  } finally {
    io.signals.off('SIGINT', sigint);
    io.signals.off('SIGTERM', sigterm);
  }
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

const imageUri = (project: string, image: string) => `projects/${project}/global/images/${image}`;

/** What stdout says when a run succeeded, for each kind of run. */
function successText(plan: RunPlan, result: BuildResult): string {
  switch (plan.kind) {
    case 'dry-run':
      return JSON.stringify(result.plan ?? [], null, 2);
    case 'vm-build':
    case 'local-build':
      if (result.state === 'unchanged' && result.image)
        return `up to date: ${result.image.uri} already holds these images${result.imageCreatedAt ? ` (built ${result.imageCreatedAt})` : ''}`;
      // The first line is the Go tool's; an incremental build says on a line of its own where it started from.
      return `Image has successfully been created at: ${imageUri(plan.projectName, plan.imageName)}${result.base ? `\nBuilt incrementally from: ${result.base}` : ''}`;
    case 'vm-verify':
      return `Image verification succeeded: ${imageUri(plan.projectName, plan.imageName)}`;
    case 'local-archive':
      return `Disk image archive written to: ${plan.archivePath}`;
    case 'local-verify':
      return `Disk verification succeeded: ${plan.file}`;
  }
}

/**
 * The run failed or was interrupted after its image was created: the image exists and was kept, so the user must
 * not rebuild it. What may be missing is the manifests file, and the result carries its contents instead: printed
 * on stdout (the results' stream) for the user to save; with --json it is in the result event.
 */
function imageKept(uri: string, result: BuildResult, out: TextSink, err: TextSink, json: boolean): void {
  err.write(`The image was created and is kept (it was not deleted): ${uri}\n`);
  const unwritten = result.unwrittenK8sManifests;
  if (!unwritten) return;
  err.write(
    `The Kubernetes manifests were not written to ${unwritten.path}; the image needs no rebuild. ` +
      (json
        ? 'Their contents are in the result (unwrittenK8sManifests.contents): save them elsewhere.\n'
        : 'They are printed on stdout: save them elsewhere (or pipe them to kubectl apply -f -).\n'),
  );
  if (!json) out.write(unwritten.contents);
}

type CommandName = 'build' | 'verify' | 'cleanup' | 'prune' | 'doctor';
const COMMANDS = ['build', 'verify', 'cleanup', 'prune', 'doctor', 'help'];
/** Every flag name of every command, for reading Go-style flags and finding where the command word stands. */
const ALL_FLAGS = new Map([...byName(DOCTOR_FLAGS), ...byName(BUILD_FLAGS), ...byName(CLEANUP_FLAGS), ...byName(PRUNE_FLAGS)]);

/** `doctor` (src/commands/doctor/command.ts): reads only; exit 0, 1 (a check failed) or 2 (bad input, no credentials). */
async function doctor(flags: RawFlags, io: CliIo, redactor: Redactor, out: TextSink, err: TextSink): Promise<number> {
  let plan;
  try {
    const { parseDoctorPlan } = await import('./commands/doctor/plan.js');
    plan = parseDoctorPlan({ flags }, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    for (const p of e.problems) err.write(`error: ${p}\n`);
    err.write('Run "gke-disk-image-builder doctor --help" for the flags.\n');
    return 2;
  }
  const controller = new AbortController();
  const stop = () => controller.abort(new InterruptedError('SIGINT'));
  io.signals.on('SIGINT', stop);
  io.signals.on('SIGTERM', stop);
  try {
    const { runDoctor } = await import('./commands/doctor/command.js');
    return await runDoctor(plan, {
      env: io.env,
      redactor,
      out,
      err,
      signal: controller.signal,
      ...(io.tuning?.retry ? { retry: io.tuning.retry } : {}),
    });
  } catch (e) {
    if (controller.signal.aborted) return 130;
    if (e instanceof UsageError) {
      for (const p of e.problems) err.write(`error: ${p}\n`);
      return 2;
    }
    err.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
    if (io.env.GDIB_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  } finally {
    io.signals.off('SIGINT', stop);
    io.signals.off('SIGTERM', stop);
  }
}

async function cleanup(flags: RawFlags, io: CliIo, redactor: Redactor, out: TextSink, err: TextSink): Promise<number> {
  let config;
  try {
    const { parseCleanupPlan } = await import('./commands/cleanup/plan.js');
    config = parseCleanupPlan({ flags }, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    for (const p of e.problems) err.write(`error: ${p}\n`);
    return 2;
  }
  const controller = new AbortController();
  const stop = () => controller.abort(new InterruptedError('SIGINT'));
  io.signals.on('SIGINT', stop);
  io.signals.on('SIGTERM', stop);
  try {
    const { runCleanup } = await import('./commands/cleanup/run.js');
    return await runCleanup(config, { env: io.env, redactor, out, err, signal: controller.signal });
  } catch (e) {
    if (controller.signal.aborted) return 130;
    if (e instanceof UsageError) {
      for (const p of e.problems) err.write(`error: ${p}\n`);
      return 2;
    }
    err.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  } finally {
    io.signals.off('SIGINT', stop);
    io.signals.off('SIGTERM', stop);
  }
}

/**
 * `prune` (docs/architecture.md, Image lifetime): the first SIGINT/SIGTERM stops it between calls (the change in
 * flight is finished, the rest skipped); a third exits at once.
 */
async function prune(flags: RawFlags, io: CliIo, redactor: Redactor, out: TextSink, err: TextSink): Promise<number> {
  let config;
  try {
    const { parsePruneConfig } = await import('./commands/prune/parse.js');
    config = parsePruneConfig({ flags }, io.env, io.cwd);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    for (const p of e.problems) err.write(`error: ${p}\n`);
    return 2;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const stop = (name: SignalName) => () => {
    interrupts++;
    if (interrupts === 1) {
      err.write(`\n${name} received: finishing the change in flight, making no other (press Ctrl-C twice more to exit at once)\n`);
      controller.abort(new InterruptedError(name));
    } else if (interrupts >= 3) io.forceExit?.(130);
  };
  const sigint = stop('SIGINT');
  const sigterm = stop('SIGTERM');
  io.signals.on('SIGINT', sigint);
  io.signals.on('SIGTERM', sigterm);
  try {
    const { runPrune } = await import('./commands/prune/run.js');
    return await runPrune(config, {
      env: io.env,
      redactor,
      out,
      err,
      signal: controller.signal,
      ...(io.tuning?.retry ? { retry: io.tuning.retry } : {}),
    });
  } catch (e) {
    if (controller.signal.aborted) return 130;
    if (e instanceof UsageError) {
      for (const p of e.problems) err.write(`error: ${p}\n`);
      return 2;
    }
    err.write(`error: ${(e as Error)?.message ?? String(e)}\n`);
    if (io.env.GDIB_DEBUG) err.write(`${(e as Error)?.stack ?? ''}\n`);
    return 1;
  } finally {
    io.signals.off('SIGINT', sigint);
    io.signals.off('SIGTERM', sigterm);
  }
}

/** Moves the command to the front wherever it was written ("--zone z verify" too); no command means build. */
function withCommandFirst(args: string[]): { args: string[]; named: boolean } {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      // "--flag value": skip the value (normalizeArgv made every boolean "--flag=...").
      if (!a.includes('=') && ALL_FLAGS.has(a.slice(2))) i++;
      continue;
    }
    if (COMMANDS.includes(a)) return { args: [a, ...args.slice(0, i), ...args.slice(i + 1)], named: true };
    break;
  }
  return { args: ['build', ...args], named: false };
}

/** The option text of a flag in --help, derived from its declaration; `modes`: those of the command it is shown for. */
export function helpText(f: FlagSpec, modes: readonly RunMode[] = []): string {
  const shown = defaultShown(f);
  const where = whereText(f, modes);
  return `${f.help}${f.isNew ? ' (new)' : ''}${f.required ? ' (required)' : ''}${shown ? ` (default: ${shown})` : ''}${where ? ` [${where}]` : ''}${f.aliases ? `; alias --${f.aliases.join(', --')}` : ''}`;
}

/**
 * Commander's options for a flag set: every flag takes a value (booleans as --flag=BOOL; see normalizeArgv). A flag
 * that applies to none of the command's modes is still read (to say that it does not apply) but not shown.
 */
function addFlags(cmd: Command, set: FlagSet, modes: readonly RunMode[]): void {
  for (const [name, f] of Object.entries(set)) {
    const opt = new Option(`--${name}${f.kind === 'bool' ? ' [BOOL]' : ` <${f.valueName ?? 'VALUE'}>`}`, helpText(f, modes));
    if (!modes.some((m) => f.appliesTo.includes(m))) opt.hideHelp();
    // "--no-external-ip" is a flag of its own, not commander's negation of "--external-ip".
    opt.negate = false;
    if (f.kind === 'list') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
}

/** The raw flags commander parsed, keyed by canonical flag name. */
function rawFlags(set: FlagSet, opts: Record<string, unknown>): RawFlags {
  const flags: RawFlags = {};
  for (const [name, f] of Object.entries(set)) {
    const v = opts[camelCase(name)];
    if (v === undefined) continue;
    flags[name] = f.kind === 'bool' && v === true ? 'true' : (v as string | string[]);
  }
  return flags;
}

function buildProgram(onRun: (command: CommandName, flags: RawFlags, positionals: string[]) => void, output: OutputConfiguration): Command {
  const program = new Command('gke-disk-image-builder')
    .configureOutput(output)
    .description('Bake container images into a GCE disk image that GKE attaches as a secondary boot disk (CONTAINER_IMAGE_CACHE).')
    .version(versionText())
    .exitOverride()
    .showSuggestionAfterError(true);
  const footer =
    '\nCommands: build (the default), verify (same as --verify-only), cleanup (delete what killed builds left),\n' +
    'prune (deprecate, then delete, the old images of a family that no cluster uses).\n' +
    'doctor (will the image work on a cluster; did the cache hit).\n' +
    '\nFlags are accepted as --flag=value, --flag value and Go-style -flag=value; booleans also as --flag=true|false.\n' +
    'Exit codes: 0 success, 1 build or verification failed (an image already created is kept), 2 invalid input\n' +
    "(nothing created), 130 interrupted (after cleanup). The VM's console is kept in the logs whenever a VM existed.\n" +
    'Docs: README.md of the package.\n';
  const commands: Array<{
    name: CommandName;
    description: string;
    flags: FlagSet;
    modes: readonly RunMode[];
    argument?: { name: string; help: string };
  }> = [
    {
      name: 'build',
      description: 'Build a GCE disk image holding the given container images, for GKE secondary boot disks.',
      flags: BUILD_FLAGS,
      // build --verify-only and build --local --verify-only are the Go tool's spellings of verify.
      modes: RUN_MODES,
    },
    {
      name: 'verify',
      description: 'Verify the snapshots of the image named by --image-name (same as build --verify-only).',
      flags: VERIFY_FLAGS,
      modes: ['verify', 'verify --local'],
      argument: VERIFY_ARGUMENT,
    },
    {
      name: 'cleanup',
      description: 'Delete the temporary disks and VMs (labelled gdib-managed=true) that builds killed with SIGKILL left behind.',
      flags: CLEANUP_FLAGS,
      modes: ['cleanup'],
    },
    {
      name: 'prune',
      description:
        'Deprecate (and with --delete, later delete) the old images of a family this tool built, keeping the newest, the young and every image a cluster uses.',
      flags: PRUNE_FLAGS,
      modes: ['prune'],
    },
    {
      name: 'doctor',
      description:
        'Check that an image will work on a GKE cluster (versions, image streaming, IAM, allowlists, workloads); --hits: how often the cache was hit. Exit 0 ok, 1 a check failed, 2 bad input.',
      flags: DOCTOR_FLAGS,
      modes: ['doctor', 'doctor --hits'],
    },
  ];
  for (const c of commands) {
    const cmd = program.command(c.name).description(c.description);
    addFlags(cmd, c.flags, c.modes);
    if (c.argument) cmd.argument(`[${c.argument.name}]`, c.argument.help);
    if (c.name !== 'cleanup' && c.name !== 'prune' && c.name !== 'doctor') cmd.addHelpText('after', footer);
    cmd
      .exitOverride()
      .allowExcessArguments(false)
      .action((...args: unknown[]) => {
        const opts = args.find((a) => a && typeof a === 'object' && !(a instanceof Command)) as Record<string, unknown>;
        const positionals = c.argument && typeof args[0] === 'string' ? [args[0]] : [];
        onRun(c.name, rawFlags(c.flags, opts), positionals);
      });
  }
  return program;
}

/**
 * The line for an error commander found, worked out from the arguments and the flag declarations (commander's own
 * wording is not an interface): which flag is unknown, with the nearest known name, or which one lacks its value.
 */
function commanderLine(e: CommanderError, args: readonly string[], flags: FlagSet): string {
  const known = byName(flags);
  const nameOf = (arg: string) => arg.replace(/^--?/, '').split('=')[0]!;
  const options = args.slice(0, args.includes('--') ? args.indexOf('--') : undefined).filter((a) => a.startsWith('-') && a !== '-');
  switch (e.code) {
    case 'commander.unknownOption': {
      const unknown = options.find((a) => !known.has(nameOf(a)) && a !== '--help' && a !== '-h');
      if (!unknown) break;
      // The name is the user's: echoed clipped (a 100 KB argument is one short line), and only a name of a
      // flag's length is compared with the known ones.
      const name = nameOf(unknown);
      const near = name.length <= 64 ? nearest(name, [...known.keys()]) : undefined;
      return `error: --${clip(name)}: unknown flag${near ? ` (did you mean --${near}?)` : ''}; see --help`;
    }
    case 'commander.optionMissingArgument': {
      // normalizeArgv gave every boolean its value, so the flag without one is the last "--flag" written alone.
      const bare = options.filter((a) => !a.includes('=') && known.get(nameOf(a))?.spec.kind !== 'bool').at(-1);
      if (bare) return `error: --${clip(nameOf(bare))}: needs a value`;
      break;
    }
  }
  return `error: ${clip(e.message.replace(/^error: /, '').split('\n')[0]!, 200)}`;
}

/** The known name closest to `name`, if it is close enough to be a typo (at most a third of it differs). */
function nearest(name: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (distance <= Math.max(1, Math.floor(candidate.length / 3)) && (!best || distance < best.distance))
      best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * The operands the command did not declare, from what commander parsed (its `args` are the operands, flags and
 * their values already taken out), not from the wording of its error message.
 */
function strayArguments(cmd: Command): string[] {
  return cmd.args.slice(cmd.registeredArguments.length);
}

function strayLine(cmd: Command, stray: readonly string[], commandNamed: boolean): string {
  const quoted = stray.map((a) => `"${clip(a)}"`).join(', ');
  const declared = cmd.registeredArguments.map((a) => a.name().toUpperCase());
  const takes = declared.length
    ? ` (${cmd.name()} takes ${declared.length === 1 ? 'one argument' : `${declared.length} arguments`}: ${declared.join(' ')})`
    : '';
  // With no command named, a bare word where the command goes is most likely a mistyped command.
  const commandLike = !commandNamed && /^[a-z][a-z-]*$/.test(stray[0]!);
  const hint = commandLike ? 'the commands are build, verify, cleanup, prune and doctor, and flags start with --' : 'flags start with --';
  return `error: unexpected argument${stray.length > 1 ? 's' : ''} ${quoted}${takes}; ${hint} (see --help)`;
}

/** How long a finished run may wait for what a library still holds open before the process ends anyway. */
export const EXIT_GRACE_MS = 1_500;

/**
 * The end of the process, for the bin shim. The run has aborted every request it abandoned and cleared its timers,
 * so normally the process ends by itself as soon as stdout and stderr are written. A request a library gave us no
 * way to cancel must not keep a finished run alive for minutes: after the output is flushed (never cut), an
 * unref'd timer ends the process if something still holds it.
 */
export function exitWhenFlushed(code: number, graceMs = EXIT_GRACE_MS): void {
  process.exitCode = code;
  let pending = 2;
  const flushed = () => {
    if (--pending === 0) setTimeout(() => process.exit(code), graceMs).unref();
  };
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}

/** Entry point of the bin shim. */
export async function run(argv: readonly string[]): Promise<number> {
  const warnings = ProcessWarnings.takeOver(process);
  return main(argv, {
    warnings,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signals: process,
    forceExit: (code) => process.exit(code),
    isTTY: process.stderr.isTTY,
    ...tuningFromEnv(process.env.GDIB_TUNING),
  });
}

/**
 * Test seam (docs/architecture.md, Test seams): GDIB_TUNING holds JSON with shorter polling and retry intervals, so tests that
 * spawn the real binary need not wait GCE's real intervals. Ignored unless it is a JSON object.
 */
function tuningFromEnv(text: string | undefined): { tuning?: Partial<Tuning> } {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? { tuning: v } : {};
  } catch {
    return {};
  }
}
