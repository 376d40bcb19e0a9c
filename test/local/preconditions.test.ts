// The checks `build --local` runs before it creates anything: each problem one line, with its fix.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aptInstallCommand, LOCAL_COMMANDS, localPreconditions } from '../../src/local/preconditions.js';
import { COMMANDS_OF, PACKAGE_OF } from '../../src/vm/contract.js';
import { scriptPath } from '../../src/local/command.js';
import { describeRig } from '../rig/rig.js';

describe('localPreconditions', () => {
  let dir: string;
  let bin: string;
  let goodRoot: string;

  /** A PATH directory holding an executable for each of `commands`. */
  function pathWith(name: string, commands: readonly string[]): string {
    const d = join(dir, name);
    mkdirSync(d);
    for (const c of commands) {
      writeFileSync(join(d, c), '#!/bin/sh\n');
      chmodSync(join(d, c), 0o755);
    }
    return d;
  }

  /** A fake / with the given loop control, /proc/filesystems and overlay module. */
  function fsRoot(name: string, opts: { loop: boolean; filesystems: string; module?: 'builtin' | 'file' }): string {
    const root = join(dir, name);
    mkdirSync(join(root, 'dev'), { recursive: true });
    mkdirSync(join(root, 'proc'), { recursive: true });
    if (opts.loop) writeFileSync(join(root, 'dev/loop-control'), '');
    writeFileSync(join(root, 'proc/filesystems'), opts.filesystems);
    const modules = join(root, 'lib/modules', release());
    mkdirSync(join(modules, 'kernel/fs/overlayfs'), { recursive: true });
    if (opts.module === 'builtin')
      writeFileSync(join(modules, 'modules.builtin'), 'kernel/fs/ext4/ext4.ko\nkernel/fs/overlayfs/overlay.ko\n');
    if (opts.module === 'file') writeFileSync(join(modules, 'kernel/fs/overlayfs/overlay.ko.zst'), '');
    return root;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gdib-preconditions-'));
    bin = pathWith('all', Object.keys(LOCAL_COMMANDS));
    goodRoot = fsRoot('good', { loop: true, filesystems: 'nodev\tsysfs\n\text4\nnodev\toverlay\n' });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds nothing wrong on a Linux machine with everything, as root', async () => {
    expect(await localPreconditions({ platform: 'linux', uid: 0, path: bin, fsRoot: goodRoot })).toEqual([]);
  });

  it('says only that it needs Linux elsewhere', async () => {
    const problems = await localPreconditions({ platform: 'darwin', uid: 501, path: '/nowhere', fsRoot: '/nowhere' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/needs Linux \(this is darwin\)/);
    expect(problems[0]).toContain('without --local');
  });

  it('asks for root, with sudo -E', async () => {
    const problems = await localPreconditions({ platform: 'linux', uid: 1000, path: bin, fsRoot: goodRoot });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('run as root, e.g. sudo -E');
  });

  it('names the missing commands and the apt-get command that installs them', async () => {
    const missing = ['md5sum', 'ctr', 'containerd', 'mkfs.ext4', 'losetup'];
    const path = pathWith(
      'some',
      Object.keys(LOCAL_COMMANDS).filter((c) => !missing.includes(c)),
    );
    const problems = await localPreconditions({ platform: 'linux', uid: 0, path, fsRoot: goodRoot });
    expect(problems).toEqual([
      'missing commands: containerd, ctr, mkfs.ext4, md5sum, losetup; on Debian/Ubuntu install them with: ' +
        'apt-get install -y --no-install-recommends containerd coreutils e2fsprogs mount',
    ]);
  });

  it('looks for commands on every directory of the PATH, executables only', async () => {
    const names = Object.keys(LOCAL_COMMANDS);
    const a = pathWith('half-a', names.slice(0, 5));
    const b = pathWith('half-b', names.slice(5));
    expect(await localPreconditions({ platform: 'linux', uid: 0, path: `${a}:relative/dir::${b}`, fsRoot: goodRoot })).toEqual([]);
    chmodSync(join(b, 'tar'), 0o644);
    symlinkSync('/does/not/exist', join(a, 'gzip-dangling'));
    const problems = await localPreconditions({ platform: 'linux', uid: 0, path: `${a}:${b}`, fsRoot: goodRoot });
    expect(problems).toEqual([expect.stringMatching(/^missing commands: tar; .* apt-get install -y --no-install-recommends tar$/)]);
  });

  it('needs loop devices and overlayfs (loaded, built in, or a module the kernel can load)', async () => {
    const bare = fsRoot('bare', { loop: false, filesystems: 'nodev\tsysfs\n\text4\n' });
    const problems = await localPreconditions({ platform: 'linux', uid: 0, path: bin, fsRoot: bare });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^no loop device support \(\/dev\/loop-control is missing\): .*modprobe loop/);
    expect(problems[1]).toMatch(/no overlayfs.*modprobe overlay/);
    for (const module of ['builtin', 'file'] as const) {
      const root = fsRoot(`module-${module}`, { loop: true, filesystems: 'nodev\tsysfs\n', module });
      expect(await localPreconditions({ platform: 'linux', uid: 0, path: bin, fsRoot: root })).toEqual([]);
    }
  });

  it('reports every problem at once, one line each', async () => {
    const bare = fsRoot('worst', { loop: false, filesystems: '' });
    const problems = await localPreconditions({ platform: 'linux', uid: 1000, path: join(dir, 'empty-dir'), fsRoot: bare });
    expect(problems).toHaveLength(4);
    for (const p of problems) expect(p).not.toContain('\n');
    expect(problems[3]).toContain(aptInstallCommand(Object.keys(LOCAL_COMMANDS)));
  });

  it('installs each package once, sorted', () => {
    expect(aptInstallCommand(['ctr', 'containerd', 'umount', 'mount', 'losetup'])).toBe(
      'apt-get install -y --no-install-recommends containerd mount',
    );
  });
});

describe('the command → package table (src/vm/contract.ts is its one source)', () => {
  it("has every command the agent runs, with the contract's package, and the packing tools", () => {
    const agent = [...COMMANDS_OF.build, ...COMMANDS_OF.verify].filter((c) => c !== 'node' && c !== 'curl');
    expect(agent.length).toBeGreaterThan(10);
    for (const c of agent) expect(LOCAL_COMMANDS[c]).toBe(PACKAGE_OF[c]);
    expect(LOCAL_COMMANDS).toMatchObject({ losetup: 'mount', tar: 'tar', gzip: 'gzip' });
  });

  it('gives every command the VM needs a Debian package', () => {
    for (const c of [...COMMANDS_OF.build, ...COMMANDS_OF.verify]) expect(PACKAGE_OF[c], c).toMatch(/^[a-z0-9.+-]+$/);
  });
});

describe('scriptPath', () => {
  it('keeps a PATH that has the sbin directories, without relative entries', () => {
    expect(scriptPath('/opt/bin:.:/usr/sbin:/usr/bin:/sbin:/bin:')).toBe('/opt/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });

  it('puts the standard directories first when /usr/sbin or /sbin is missing, as common.sh does', () => {
    expect(scriptPath('/home/me/bin:/usr/bin:/bin')).toBe(
      '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/home/me/bin:/usr/bin:/bin',
    );
    expect(scriptPath('')).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  });
});

describeRig('localPreconditions on this machine', () => {
  it('finds nothing wrong where the rig runs', async () => {
    expect(await localPreconditions()).toEqual([]);
  });
});
