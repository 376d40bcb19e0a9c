// Running the startup script locally: only PATH and the script's variables of docs/architecture.md, Test seams reach it, its output comes
// line by line, and an abort lets its TERM trap clean up — or kills all it started after the grace.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStartupScript, type StartupScriptEnv } from '../../src/local/run-script.js';
import { isMountPoint } from '../rig/disk.js';
import { processesMentioning } from '../rig/inspect.js';
import { run, waitFor } from '../rig/proc.js';
import { describeRig } from '../rig/rig.js';

describe('runStartupScript', () => {
  let dir: string;
  let env: StartupScriptEnv;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-run-script-'));
    env = {
      GCE_METADATA_HOST: '127.0.0.1:1',
      GDIB_DEVICE: '/dev/loop99',
      GDIB_MOUNT_DIR: join(dir, 'mnt'),
      GDIB_WORK_DIR: join(dir, 'work'),
    };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runIt(
    script: string,
    opts: { env?: StartupScriptEnv; signal?: AbortSignal; graceMs?: number; onLine?: (l: string) => void } = {},
  ) {
    const lines: string[] = [];
    const exit = await runStartupScript({
      script,
      env: opts.env ?? env,
      onLine: (l) => {
        lines.push(l);
        opts.onLine?.(l);
      },
      signal: opts.signal ?? new AbortController().signal,
      ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
    });
    return { ...exit, lines };
  }

  it('passes only PATH and the variables of the script in docs/architecture.md, Test seams', async () => {
    process.env.GDIB_TEST_LEAK = 'must not reach the script';
    try {
      const withHosts = {
        ...env,
        GDIB_HOSTS_DIR: join(dir, 'hosts'),
        GDIB_STORAGE_ENDPOINT: 'http://127.0.0.1:2',
        HF_ENDPOINT: 'http://127.0.0.1:3',
      };
      // Extra keys a caller might smuggle in at run time are not passed either.
      const smuggled = { ...withHosts, LD_PRELOAD: '/evil.so' } as StartupScriptEnv;
      const { exitCode, lines } = await runIt('#!/bin/bash\nenv -0 | tr "\\0" "\\n" | grep -v "^$" | sort\n', { env: smuggled });
      expect(exitCode).toBe(0);
      const vars = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      // bash itself sets PWD, SHLVL and _ for what it runs.
      const { PWD, SHLVL, _, ...rest } = vars;
      expect(PWD).toBe('/');
      expect(SHLVL).toBe('1');
      expect(_).toBe('/usr/bin/env');
      expect(rest).toEqual({
        // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers as any
        PATH: expect.stringMatching(/(^|:)\/usr\/sbin:.*(^|:)\/sbin(:|$)/),
        GCE_METADATA_HOST: '127.0.0.1:1',
        GDIB_DEVICE: '/dev/loop99',
        GDIB_MOUNT_DIR: env.GDIB_MOUNT_DIR,
        GDIB_WORK_DIR: env.GDIB_WORK_DIR,
        GDIB_HOSTS_DIR: join(dir, 'hosts'),
        GDIB_STORAGE_ENDPOINT: 'http://127.0.0.1:2',
        HF_ENDPOINT: 'http://127.0.0.1:3',
      });
      const without = await runIt('env | cut -d= -f1 | sort');
      expect(without.lines).not.toContain('GDIB_HOSTS_DIR');
    } finally {
      delete process.env.GDIB_TEST_LEAK;
    }
  });

  it('runs the script from a private file that is gone afterwards, as this user, with no terminal', async () => {
    const { exitCode, lines } = await runIt(
      'printf "%s\\n" "$0" "$(stat -c %a "$0")" "$(stat -c %a "${0%/*}")" "$(id -u)"; [ -t 0 ] && echo tty || echo no-tty; read -r x && echo "read:$x" || echo eof',
    );
    expect(exitCode).toBe(0);
    const [file, mode, dirMode, uid, tty, stdin] = lines;
    expect(mode).toBe('700');
    expect(dirMode).toBe('700');
    expect(Number(uid)).toBe(process.getuid?.());
    expect(tty).toBe('no-tty');
    expect(stdin).toBe('eof');
    expect(existsSync(file!)).toBe(false);
    expect(existsSync(join(file!, '..'))).toBe(false);
  });

  it('streams stdout and stderr line by line as they come, with the exit status', async () => {
    const times: number[] = [];
    const started = Date.now();
    const { exitCode, signal, lines } = await runIt(
      'echo one; echo two >&2; printf "no newline yet"; sleep 0.5; printf " — done\\r\\nünïcødé\\n"; printf "tail without newline"; exit 3',
      { onLine: () => times.push(Date.now() - started) },
    );
    expect(exitCode).toBe(3);
    expect(signal).toBeNull();
    expect(lines.sort()).toEqual(['no newline yet — done', 'one', 'tail without newline', 'two', 'ünïcødé'].sort());
    // The first lines arrived before the script slept, not at its end.
    expect(times[0]).toBeLessThan(times.at(-1)! - 300);
  });

  it('splits a huge line instead of holding it', async () => {
    const { lines } = await runIt('head -c 200000 /dev/zero | tr "\\0" x; echo');
    expect(lines.join('')).toBe('x'.repeat(200_000));
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(64 * 1024);
  });

  it("on abort sends SIGTERM and waits for the script's TERM trap to clean up", async () => {
    const ac = new AbortController();
    const marker = join(dir, 'cleaned-up');
    const { exitCode, signal, lines } = await runIt(
      `trap 'echo "trap: cleaning up"; sleep 1; touch ${marker}; echo "trap: done"; exit 143' TERM
       echo ready
       while true; do sleep 0.1; done`,
      { signal: ac.signal, onLine: (l) => void (l === 'ready' && ac.abort()) },
    );
    expect(exitCode).toBe(143);
    expect(signal).toBeNull();
    expect(lines).toEqual(['ready', 'trap: cleaning up', 'trap: done']);
    expect(existsSync(marker)).toBe(true);
  });

  it('kills the script and everything it started when it outlasts the grace period', async () => {
    const ac = new AbortController();
    const tag = `gdib-stubborn-${process.pid}`;
    const started = Date.now();
    const { exitCode, signal, lines } = await runIt(
      `trap 'echo ignoring TERM' TERM
       bash -c 'trap "" TERM; exec -a ${tag} sleep 300' &
       echo ready
       while true; do sleep 0.1; done`,
      { signal: ac.signal, graceMs: 1000, onLine: (l) => void (l === 'ready' && ac.abort()) },
    );
    expect(exitCode).toBeNull();
    expect(signal).toBe('SIGKILL');
    expect(lines).toContain('ignoring TERM');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    await waitFor(() => processesMentioning(tag).length === 0, 5000, `${tag} to be gone`);
  });

  it('leaves nothing running that the script started in the background and forgot', async () => {
    const tag = `gdib-forgotten-${process.pid}`;
    const { exitCode } = await runIt(`(exec -a ${tag} sleep 300) >/dev/null 2>&1 & echo started`);
    expect(exitCode).toBe(0);
    await waitFor(() => processesMentioning(tag).length === 0, 5000, `${tag} to be gone`);
  });

  it('does not start when already aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    const marker = join(dir, 'ran-although-aborted');
    await expect(runIt(`touch ${marker}`, { signal: ac.signal })).rejects.toThrow('stop');
    expect(existsSync(marker)).toBe(false);
  });

  it('reports an onLine that throws once the script has ended', async () => {
    const marker = join(dir, 'ran-to-the-end');
    await expect(
      runIt(`echo one; echo two; touch ${marker}`, {
        onLine: () => {
          throw new Error('consumer broke');
        },
      }),
    ).rejects.toThrow('consumer broke');
    expect(existsSync(marker)).toBe(true);
  });
});

describeRig('runStartupScript and mounts', () => {
  it('unmounts what a killed script left mounted under its mount and work dirs, and nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gdib-run-script-mounts-'));
    const mnt = join(dir, 'mnt');
    const work = join(dir, 'work');
    const before = join(work, 'mounted-before');
    mkdirSync(before, { recursive: true });
    await run('mount', ['-t', 'tmpfs', 'tmpfs', before]);
    try {
      const ac = new AbortController();
      const exit = await runStartupScript({
        script: `trap '' TERM
          mkdir -p "$GDIB_MOUNT_DIR/inner" "$GDIB_WORK_DIR/with space"
          mount -t tmpfs tmpfs "$GDIB_MOUNT_DIR"
          mkdir -p "$GDIB_MOUNT_DIR/inner"
          mount -t tmpfs tmpfs "$GDIB_MOUNT_DIR/inner"
          mount -t tmpfs tmpfs "$GDIB_WORK_DIR/with space"
          echo mounted
          while true; do sleep 0.1; done`,
        env: { GCE_METADATA_HOST: '127.0.0.1:1', GDIB_DEVICE: '/dev/null', GDIB_MOUNT_DIR: mnt, GDIB_WORK_DIR: work },
        onLine: (l) => void (l === 'mounted' && ac.abort()),
        signal: ac.signal,
        graceMs: 500,
      });
      expect(exit.signal).toBe('SIGKILL');
      expect(isMountPoint(mnt)).toBe(false);
      expect(isMountPoint(join(mnt, 'inner'))).toBe(false);
      expect(isMountPoint(join(work, 'with space'))).toBe(false);
      expect(isMountPoint(before)).toBe(true);
    } finally {
      await run('umount', [before], { allowFailure: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
