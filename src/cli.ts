// The command line, wiring only (docs/architecture.md, Handlers and the host): commander's options and errors,
// then the command's handler (src/commands/<command>/handler.ts). `main(argv, io)` returns the exit code; the bin
// shim sets process.exitCode. The handlers load the Google client libraries only once the input is known to be good.
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
import type { Tuning } from './builder/context.js';
import { buildHandler } from './commands/build/handler.js';
import { cleanupHandler } from './commands/cleanup/handler.js';
import { doctorHandler } from './commands/doctor/handler.js';
import { pruneHandler } from './commands/prune/handler.js';
import { createHost, type CliIo } from './io/host.js';
import { ProcessWarnings } from './io/warnings.js';
import { versionText } from './version.js';

export type { CliIo, SignalSource } from './io/host.js';

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const host = createHost(io);
  const { out, err } = host;
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
  // Each command's handler lives beside its flags and plan (src/commands/<command>/handler.ts).
  const r: { command: CommandName; flags: RawFlags; positionals: string[] } | undefined = request;
  if (!r) return 0;
  switch (r.command) {
    case 'cleanup':
      return cleanupHandler(r.flags, host);
    case 'prune':
      return pruneHandler(r.flags, host);
    case 'doctor':
      return doctorHandler(r.flags, host);
    case 'build':
    case 'verify':
      return buildHandler({ command: r.command, flags: r.flags, positionals: r.positionals }, host);
  }
}

type CommandName = 'build' | 'verify' | 'cleanup' | 'prune' | 'doctor';
const COMMANDS = ['build', 'verify', 'cleanup', 'prune', 'doctor', 'help'];
/** Every flag name of every command, for reading Go-style flags and finding where the command word stands. */
const ALL_FLAGS = new Map([...byName(DOCTOR_FLAGS), ...byName(BUILD_FLAGS), ...byName(CLEANUP_FLAGS), ...byName(PRUNE_FLAGS)]);

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
