// The agent's own containerd (docs/vm-script.md, What runs as what): config, root, state and socket under the work dir,
// its overlayfs snapshotter rooted on the data disk, labelling every snapshot with its directory. `ctr` talks to it.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkAborted, lastLine, pause, type Ctx } from './context.js';
import { Fail } from './errors.js';
import type { Proc, RunOptions, RunResult } from './system.js';

export const NAMESPACE = 'k8s.io';

export class Containerd {
  readonly dir: string;
  private proc: Proc | undefined;

  constructor(private readonly ctx: Ctx) {
    this.dir = join(ctx.env.workDir, 'containerd');
  }

  get socket(): string {
    return join(this.dir, 'containerd.sock');
  }

  /** The content store's blobs, each named by its digest. */
  get blobs(): string {
    return join(this.dir, 'root', 'io.containerd.content.v1.content', 'blobs', 'sha256');
  }

  get contentDir(): string {
    return join(this.dir, 'root', 'io.containerd.content.v1.content');
  }

  /** `ctr` against this containerd, in its namespace. */
  ctrArgs(args: readonly string[]): string[] {
    return ['--address', this.socket, '--namespace', NAMESPACE, ...args];
  }

  ctr(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.ctx.sys.run('ctr', this.ctrArgs(args), opts);
  }

  /** Runs ctr; throws `what: <ctr's last line>` when it fails. */
  async ctrOk(args: readonly string[], what: string, opts?: RunOptions): Promise<string> {
    const res = await this.ctr(args, opts);
    if (res.code !== 0) throw new Fail(`${what}: ${lastLine(res.stderr + res.stdout)}`);
    return res.stdout;
  }

  async start(reuse: boolean): Promise<void> {
    const { ctx } = this;
    ctx.step.set('starting containerd');
    rmSync(this.dir, { recursive: true, force: true });
    // Unix socket paths are limited to 108 bytes (104 on some systems): say so instead of failing obscurely.
    if (this.dir.length + 24 > 104) {
      throw new Fail(`the work dir ${this.dir} is too long for containerd's sockets: set GDIB_WORK_DIR to a path under 80 characters`);
    }
    mkdirSync(join(this.dir, 'tmp'), { recursive: true });
    // On a reused disk the collector runs only when asked (reuse.ts): on its own it could take the content
    // placeholders before a pull adopts them.
    const gc = reuse
      ? `
[plugins."io.containerd.gc.v1.scheduler"]
  deletion_threshold = 1000000
  mutation_threshold = 1000000
  startup_delay = "24h"

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "shared"
`
      : '';
    const config = join(this.dir, 'config.toml');
    writeFileSync(
      config,
      `version = 2
root = ${JSON.stringify(join(this.dir, 'root'))}
state = ${JSON.stringify(join(this.dir, 'state'))}
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${JSON.stringify(this.socket)}

[ttrpc]
  address = ${JSON.stringify(`${this.socket}.ttrpc`)}

[plugins."io.containerd.snapshotter.v1.overlayfs"]
  root_path = ${JSON.stringify(ctx.env.mountDir)}
  upperdir_label = true
${gc}`,
    );
    const log = join(ctx.logs, 'containerd.log');
    // TMPDIR: containerd's scratch files stay under the work dir too. CONTAINERD_DISABLE_PIGZ: containerd decompresses
    // layers itself even where unpigz happens to be installed (docs/benchmarks.md), so every machine does the same.
    this.proc = ctx.sys.spawn('containerd', ['--config', config], {
      env: { PATH: ctx.env.path, TMPDIR: join(this.dir, 'tmp'), CONTAINERD_DISABLE_PIGZ: '1' },
      outputFile: log,
    });
    let ended = false;
    void this.proc.exited.then(() => (ended = true));
    for (let i = 1; i <= 300; i++) {
      if (existsSync(this.socket) && (await this.ctr(['version'])).code === 0) return;
      if (ended) break;
      await pause(ctx, 100);
      checkAborted(ctx);
    }
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // no log
    }
    for (const line of text
      .split('\n')
      .filter((l) => /level=(error|fatal)/.test(l))
      .slice(-5))
      ctx.report.relay('containerd', line);
    const last = lastLine(text);
    throw new Fail(`containerd did not start${last ? `: ${last}` : ''}`);
  }

  /** Stops containerd and unmounts what it left mounted under its dir (an unpack cut short). */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    proc.kill('SIGTERM');
    const killed = await Promise.race([proc.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000))]);
    if (killed) {
      proc.kill('SIGKILL');
      await proc.exited;
    }
    const left = this.ctx.sys
      .mounts()
      .map((m) => m.target)
      .filter((t) => t.startsWith(`${this.dir}/`))
      .sort()
      .reverse();
    for (const target of left) {
      if ((await this.ctx.sys.run('umount', ['--', target])).code !== 0) await this.ctx.sys.run('umount', ['-l', '--', target]);
    }
  }
}
