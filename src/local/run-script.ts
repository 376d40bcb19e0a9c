// Runs the startup script on this machine, as the VM would (docs/architecture.md, Test seams): the very script text the CLI puts
// in the `startup-script` metadata, under bash, as the current (root) user, with PATH and the script's variables of docs/architecture.md, Test seams,
// variables as its whole environment.
//
// The script runs in a session of its own, so a Ctrl-C on the terminal reaches the CLI only, which
// aborts in order: SIGTERM to the script (its TERM trap stops its containerd, unmounts the disk and
// reports `failed`), SIGKILL to everything it started if it is still there after the grace period, then
// whatever it left mounted under its mount and work dirs is unmounted.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { scriptPath } from './command.js';
import { mountsUnderDir, unmountAll } from './disk.js';

/** Exactly the script's variables of docs/architecture.md, Test seams (PATH is added). */
export interface StartupScriptEnv {
  GCE_METADATA_HOST: string;
  GDIB_DEVICE: string;
  GDIB_MOUNT_DIR: string;
  GDIB_WORK_DIR: string;
  GDIB_HOSTS_DIR?: string;
  /** Secret Manager's API root, for the registry secrets. */
  GDIB_SECRETMANAGER_ENDPOINT?: string;
  /** Cloud Storage's JSON API root, for a data disk's gs:// sources. */
  GDIB_STORAGE_ENDPOINT?: string;
  /** Hugging Face's root, for a data disk's hf:// sources. */
  HF_ENDPOINT?: string;
}

export interface RunStartupScriptOptions {
  /** The script text, e.g. the `startup-script` value of `renderMetadata`, or the agent bundle (`gdib-agent`). */
  script: string;
  /** What runs it: bash (a startup script), or this process's own Node (the agent, as `--local` runs it). */
  runner?: 'bash' | 'node';
  env: StartupScriptEnv;
  /** Each line of the script's stdout and stderr, without its newline, as it comes. */
  onLine: (line: string) => void;
  /** Aborting ends the script: SIGTERM, then SIGKILL after `graceMs`. */
  signal: AbortSignal;
  /** How long the script may take to clean up after SIGTERM; default 90 s. */
  graceMs?: number;
}

export interface StartupScriptExit {
  /** The exit status, when the script exited (143 after SIGTERM: the script's trap exits so). */
  exitCode: number | null;
  /** The signal that killed it, when one did (`SIGKILL` after the grace period). */
  signal: string | null;
}

/**
 * The script's own cleanup after SIGTERM: stopping containerd (up to 10 s), waiting for a pull (5 s),
 * unmounting with retries (15 s), and a `mkfs`, `md5sum` or `umount` it must first wait for.
 */
export const DEFAULT_GRACE_MS = 90_000;
/** A line longer than this is passed on in pieces. */
const MAX_LINE = 64 * 1024;

/** Splits a byte stream into lines (LF or CRLF), decoding UTF-8 across chunk boundaries. */
class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    for (;;) {
      const nl = this.pending.indexOf('\n');
      if (nl >= 0 && nl <= MAX_LINE) {
        this.emit(this.pending.slice(0, nl).replace(/\r$/, ''));
        this.pending = this.pending.slice(nl + 1);
      } else if (nl > MAX_LINE || this.pending.length > MAX_LINE) {
        this.emit(this.pending.slice(0, MAX_LINE));
        this.pending = this.pending.slice(MAX_LINE);
      } else {
        return;
      }
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.emit(this.pending.replace(/\r$/, ''));
    this.pending = '';
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false; // the group is empty
  }
}

/**
 * Runs `script` with bash, streaming its output to `onLine`, and resolves once it has exited and
 * nothing it started is left running or mounted. Rejects without running anything when `signal` has
 * already aborted; rejects after the script has ended if `onLine` threw.
 */
export async function runStartupScript(opts: RunStartupScriptOptions): Promise<StartupScriptExit> {
  const { signal } = opts;
  signal.throwIfAborted();
  const env: Record<string, string> = {
    PATH: scriptPath(),
    GCE_METADATA_HOST: opts.env.GCE_METADATA_HOST,
    GDIB_DEVICE: opts.env.GDIB_DEVICE,
    GDIB_MOUNT_DIR: opts.env.GDIB_MOUNT_DIR,
    GDIB_WORK_DIR: opts.env.GDIB_WORK_DIR,
    ...(opts.env.GDIB_HOSTS_DIR !== undefined ? { GDIB_HOSTS_DIR: opts.env.GDIB_HOSTS_DIR } : {}),
    ...(opts.env.GDIB_SECRETMANAGER_ENDPOINT !== undefined ? { GDIB_SECRETMANAGER_ENDPOINT: opts.env.GDIB_SECRETMANAGER_ENDPOINT } : {}),
    ...(opts.env.GDIB_STORAGE_ENDPOINT !== undefined ? { GDIB_STORAGE_ENDPOINT: opts.env.GDIB_STORAGE_ENDPOINT } : {}),
    ...(opts.env.HF_ENDPOINT !== undefined ? { HF_ENDPOINT: opts.env.HF_ENDPOINT } : {}),
  };
  const scratch = [opts.env.GDIB_MOUNT_DIR, opts.env.GDIB_WORK_DIR];
  const mountsUnder = () => scratch.flatMap(mountsUnderDir);
  const mountedBefore = new Set(mountsUnder());

  // A private directory (mkdtemp makes it 0700) for the script file, removed afterwards.
  const dir = await mkdtemp(join(tmpdir(), 'gdib-startup-script-'));
  try {
    const file = join(dir, opts.runner === 'node' ? 'agent.mjs' : 'startup-script');
    await writeFile(file, opts.script, { mode: 0o700, flag: 'wx' });
    const exit = await runBash(file, env, opts);
    const left = mountsUnder().filter((m) => !mountedBefore.has(m));
    if (left.length > 0) await unmountAll(left);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows, unchanged, whatever an onLine callback threw
    if (exit.callbackError !== undefined) throw exit.callbackError;
    return { exitCode: exit.exitCode, signal: exit.signal };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runBash(
  file: string,
  env: Record<string, string>,
  opts: RunStartupScriptOptions,
): Promise<StartupScriptExit & { callbackError?: unknown }> {
  const { signal } = opts;
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  return new Promise((resolve, reject) => {
    // stdin is /dev/null: with a socket for stdin (Node's pipes are sockets) bash believes sshd started
    // it and reads ~/.bashrc; and nothing the script runs can read the CLI's terminal.
    const [cmd, args] = opts.runner === 'node' ? [process.execPath, ['--no-warnings', file]] : ['bash', ['--noprofile', '--norc', file]];
    const child = spawn(cmd, args, {
      env,
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let callbackError: unknown;
    const emit = (line: string) => {
      try {
        opts.onLine(line);
      } catch (err) {
        callbackError ??= err;
      }
    };
    const out = new LineSplitter(emit);
    const err = new LineSplitter(emit);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));

    let killTimer: NodeJS.Timeout | undefined;
    let exited = false;
    const onAbort = () => {
      if (exited || child.pid === undefined) return;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => {
        if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      }, graceMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
    };

    child.once('error', (e) => {
      done();
      reject(new Error(`cannot run the startup script with ${cmd}: ${e.message}`));
    });
    child.once('exit', () => {
      exited = true;
      // Nothing the script started may outlive it (its containerd, a pull): the group is its own.
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    });
    child.once('close', (code, sig) => {
      done();
      out.end();
      err.end();
      resolve({ exitCode: code, signal: sig, callbackError });
    });
  });
}
