// Two ways to get an image's root filesystem, to compare them: applying its layer tars in memory (the
// OCI image spec's rules for whiteouts and opaque directories — independent of containerd), and
// reading a mounted directory (the overlay of the snapshots the script wrote).
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { run } from './proc.js';
import { readTar } from './tar.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'char' | 'block' | 'socket';

export interface FsNode {
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
  xattrs: Record<string, string>;
}

/** Path (relative, no leading `/`) → node; hard links are the same node object. */
export type FsTree = Map<string, FsNode>;

const OPAQUE = '.wh..wh..opq';
const WHITEOUT = '.wh.';

function removeSubtree(tree: FsTree, path: string): void {
  for (const key of [...tree.keys()]) if (key === path || key.startsWith(`${path}/`)) tree.delete(key);
}

function hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The root filesystem that applying `layers` (uncompressed tars, bottom first) gives. */
export function applyLayers(layers: readonly Buffer[]): FsTree {
  const tree: FsTree = new Map();
  for (const tar of layers) {
    const entries = readTar(tar);
    // An opaque directory hides what lower layers have in it, whatever the order in this layer.
    for (const e of entries) {
      if (posix.basename(e.path) === OPAQUE) {
        const dir = posix.dirname(e.path);
        for (const key of [...tree.keys()]) if (key.startsWith(`${dir}/`)) tree.delete(key);
      }
    }
    for (const e of entries) {
      const name = posix.basename(e.path);
      const dir = posix.dirname(e.path);
      if (name === OPAQUE) continue;
      if (name.startsWith(WHITEOUT)) {
        removeSubtree(tree, dir === '.' ? name.slice(WHITEOUT.length) : `${dir}/${name.slice(WHITEOUT.length)}`);
        continue;
      }
      const existing = tree.get(e.path);
      if (!(existing?.type === 'dir' && e.type === 'dir')) removeSubtree(tree, e.path);
      if (e.type === 'hardlink') {
        const target = tree.get(e.linkname ?? '');
        if (!target) throw new Error(`hard link ${e.path} to missing ${e.linkname}`);
        tree.set(e.path, target);
        continue;
      }
      const content = e.content ?? Buffer.alloc(0);
      tree.set(e.path, {
        type: e.type === 'file' ? 'file' : e.type,
        mode: e.mode,
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? 0,
        ...(e.type === 'file' ? { size: content.length, sha256: hex(content) } : {}),
        ...(e.type === 'symlink' ? { target: e.linkname ?? '' } : {}),
        xattrs: { ...(e.xattrs ?? {}) },
      });
    }
  }
  return tree;
}

/** Decodes getfattr's quoting of names (`\ooo` octal escapes of bytes). */
function unquote(s: string): string {
  const bytes: number[] = [];
  const latin = Buffer.from(s, 'utf8').toString('latin1');
  for (let i = 0; i < latin.length; i++) {
    const m = /^\\([0-7]{3})/.exec(latin.slice(i, i + 4));
    if (m?.[1]) {
      bytes.push(parseInt(m[1], 8));
      i += 3;
    } else bytes.push(latin.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Every xattr under `root` (symlinks not followed), except overlayfs' own and the host's SELinux labels. */
async function readXattrs(root: string): Promise<Map<string, Record<string, string>>> {
  const { stdout } = await run('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', root], {
    env: { ...process.env, LC_ALL: 'C' },
  });
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      const path = unquote(line.slice('# file: '.length));
      current = {};
      out.set(path === root ? '' : posix.relative(root, path), current);
    } else if (current && line.includes('=')) {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1);
      if (key.startsWith('trusted.overlay.') || key === 'security.selinux') continue;
      current[key] = value.startsWith('0x') ? Buffer.from(value.slice(2), 'hex').toString('utf8') : value;
    }
  }
  return out;
}

/** Reads the tree under `root`; hard links are recognised by inode number. */
export async function readTree(root: string): Promise<FsTree> {
  const tree: FsTree = new Map();
  const byInode = new Map<number, FsNode>();
  const xattrs = await readXattrs(root);
  const walk = (rel: string) => {
    for (const name of readdirSync(rel ? `${root}/${rel}` : root)) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = `${root}/${path}`;
      const st = lstatSync(abs);
      const type: NodeType = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isFIFO()
              ? 'fifo'
              : st.isCharacterDevice()
                ? 'char'
                : st.isBlockDevice()
                  ? 'block'
                  : 'socket';
      if (type === 'file' && st.nlink > 1 && byInode.has(st.ino)) {
        tree.set(path, byInode.get(st.ino) as FsNode);
        continue;
      }
      const node: FsNode = {
        type,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
        ...(type === 'file' ? { size: st.size, sha256: hex(readFileSync(abs)) } : {}),
        ...(type === 'symlink' ? { target: readlinkSync(abs) } : {}),
        xattrs: xattrs.get(path) ?? {},
      };
      if (type === 'file' && st.nlink > 1) byInode.set(st.ino, node);
      tree.set(path, node);
      if (type === 'dir') walk(path);
    }
  };
  walk('');
  return tree;
}

function linkGroups(tree: FsTree): string[] {
  const groups = new Map<FsNode, string[]>();
  for (const [path, node] of tree) if (node.type === 'file') groups.set(node, [...(groups.get(node) ?? []), path]);
  return [...groups.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort().join(' = '))
    .sort();
}

/** Every difference between two trees, one human-readable line each; empty when they are equal. */
export function diffTrees(expected: FsTree, actual: FsTree): string[] {
  const diffs: string[] = [];
  const show = (p: string) => JSON.stringify(p);
  for (const path of expected.keys()) if (!actual.has(path)) diffs.push(`missing ${show(path)}`);
  for (const path of actual.keys()) if (!expected.has(path)) diffs.push(`unexpected ${show(path)}`);
  for (const [path, want] of expected) {
    const got = actual.get(path);
    if (!got) continue;
    for (const key of ['type', 'mode', 'uid', 'gid', 'mtime', 'size', 'sha256', 'target'] as const) {
      if (want[key] !== got[key]) diffs.push(`${show(path)}: ${key} ${String(want[key])} != ${String(got[key])}`);
    }
    const wx = JSON.stringify(Object.entries(want.xattrs).sort());
    const gx = JSON.stringify(Object.entries(got.xattrs).sort());
    if (wx !== gx) diffs.push(`${show(path)}: xattrs ${wx} != ${gx}`);
  }
  const wl = linkGroups(expected);
  const gl = linkGroups(actual);
  if (JSON.stringify(wl) !== JSON.stringify(gl)) diffs.push(`hard links ${JSON.stringify(wl)} != ${JSON.stringify(gl)}`);
  return diffs;
}
