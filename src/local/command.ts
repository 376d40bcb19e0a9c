// Running the system tools a local build uses (losetup, tar, umount, ...): without a shell, with the
// PATH the startup script would see, and with every child ended when the caller's signal aborts.
import { spawn } from 'node:child_process';

/** What a VM's startup script gets, and what its bootstrap falls back to. */
export const STANDARD_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The PATH the startup script runs with, from the caller's: relative entries dropped (this runs as
 * root), and — exactly as the bootstrap does — the standard directories put first when /usr/sbin or /sbin
 * is missing (`sudo -E` keeps a user's PATH, which usually lacks them).
 */
export function scriptPath(envPath: string | undefined = process.env.PATH): string {
  const dirs = (envPath ?? '').split(':').filter((d) => d.startsWith('/'));
  if (dirs.includes('/usr/sbin') && dirs.includes('/sbin')) return dirs.join(':');
  return [STANDARD_PATH, ...dirs].join(':');
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The last few non-empty lines of a tool's output, for an error message. */
export function lastLines(text: string, n = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .slice(-n)
    .join(' / ');
}

/**
 * Runs `cmd args` (no shell; stdin is /dev/null) and collects its output. Rejects when it cannot start,
 * when it exits non-zero (unless `allowFailure`), and with the signal's reason when `signal` aborts (the
 * tool is sent SIGTERM and waited for).
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { signal?: AbortSignal; allowFailure?: boolean } = {},
): Promise<CommandResult> {
  const { signal } = opts;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const child = spawn(cmd, args, {
      env: { PATH: scriptPath(), LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.once('close', (code, sig) => {
      signal?.removeEventListener('abort', onAbort);
      const result = { code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (signal?.aborted) return reject(signal.reason);
      if (result.code !== 0 && !opts.allowFailure) {
        const detail = lastLines(result.stderr) || lastLines(result.stdout);
        return reject(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit status ${result.code}`})${detail ? `: ${detail}` : ''}`));
      }
      resolve(result);
    });
  });
}
