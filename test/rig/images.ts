// The test images. Between them they hold every filesystem feature the disk must keep exactly:
// file and directory whiteouts, an opaque directory, hard links, symlinks (relative, absolute,
// dangling), setuid/setgid/sticky modes, non-root owners, `user.*` xattrs, names with spaces, a
// backslash and a newline, long names (PAX), empty files, a fifo, type changes between layers, an
// uncompressed layer, two images sharing their base layer and a two-platform image.
import { OciLayout, type Layer } from './oci.js';
import type { TarEntry } from './tar.js';

const T = 1_700_000_000;
const txt = (s: string) => Buffer.from(s);

const dir = (path: string, mode = 0o755, extra: Partial<TarEntry> = {}): TarEntry => ({ path, type: 'dir', mode, ...extra });
const file = (path: string, content: Buffer | string, mode = 0o644, extra: Partial<TarEntry> = {}): TarEntry => ({
  path,
  type: 'file',
  mode,
  content: typeof content === 'string' ? txt(content) : content,
  ...extra,
});
const symlink = (path: string, target: string): TarEntry => ({ path, type: 'symlink', mode: 0o777, linkname: target });
// Like every real tar writer, a hard link's header repeats its inode's owner and mode (containerd
// applies them to the inode it links to).
const hardlink = (path: string, target: string, mode = 0o644, extra: Partial<TarEntry> = {}): TarEntry => ({
  path,
  type: 'hardlink',
  mode,
  linkname: target,
  ...extra,
});

/** Deterministic, poorly compressible bytes. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** `security.capability` v2: magic 0x02000000 | effective, permitted = 1 << CAP_NET_RAW (13), no inheritable. */
export const CAP_NET_RAW = String.fromCharCode(1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

export const LONG_NAME = `long-${'n'.repeat(140)}.txt`;
export const DEEP_DIR = Array.from({ length: 6 }, (_, i) => `level-${i}-${'d'.repeat(40)}`).join('/');

export const baseLayer: Layer = {
  entries: [
    dir('bin'),
    file('bin/tool', '#!/bin/sh\necho tool\n', 0o755, { mtime: T - 100 }),
    file('bin/setuid-tool', 'setuid\n', 0o4755),
    file('bin/setgid-tool', 'setgid\n', 0o2755, { gid: 42 }),
    symlink('bin/tool-link', 'tool'),
    // A file capability (cap_net_raw, effective): a binary xattr outside the user.* namespace.
    file('bin/ping-like', 'ping\n', 0o755, { xattrs: { 'security.capability': CAP_NET_RAW } }),
    dir('etc'),
    file('etc/config', 'a=1\n'),
    file('etc/deleteme', 'this file is deleted by the app layer\n'),
    file('etc/shadow-like', 'secret\n', 0o600),
    dir('home'),
    dir('home/user', 0o750, { uid: 1000, gid: 1000 }),
    file('home/user/notes.txt', 'notes\n', 0o640, { uid: 1000, gid: 1000 }),
    dir('tmp', 0o1777),
    dir('opaque'),
    file('opaque/a', 'a from base\n'),
    dir('opaque/sub'),
    file('opaque/sub/b', 'b from base\n'),
    dir('gone'),
    file('gone/x', 'x\n'),
    dir('gone/deep'),
    file('gone/deep/y', 'y\n'),
    dir('data'),
    file('data/empty', ''),
    file('data/with space.txt', 'spaces\n'),
    file('data/back\\slash', 'backslash\n'),
    file('data/new\nline', 'newline\n'),
    file('data/big.bin', pseudoRandom(300_000, 7)),
    file('data/xattr.txt', 'has xattrs\n', 0o644, { xattrs: { 'user.gdib': 'hello', 'user.empty-ish': ' ' } }),
    file('data/link-target', 'linked\n'),
    hardlink('data/hardlink', 'data/link-target'),
    symlink('data/abs-link', '/etc/config'),
    symlink('data/dangling', '/does/not/exist'),
    { path: 'data/fifo', type: 'fifo', mode: 0o600 },
    file('data/morph', 'a file that becomes a directory\n'),
    dir('data/dir2'),
    file('data/dir2/child', 'child\n'),
  ],
};

export const appLayer: Layer = {
  entries: [
    dir('etc'),
    file('etc/.wh.deleteme', ''),
    file('etc/config', 'a=2\n'),
    file('.wh.gone', ''),
    dir('opaque'),
    file('opaque/.wh..wh..opq', ''),
    file('opaque/c', 'c from app\n'),
    dir('data'),
    dir('data/morph'),
    file('data/morph/inside', 'now a directory\n'),
    file('data/dir2', 'now a file\n'),
    dir('app', 0o755, { xattrs: { 'user.dir-attr': 'on a directory' } }),
    file('app/f1', 'hard linked in the app layer\n', 0o640, { uid: 65534, gid: 65534 }),
    hardlink('app/f1-link', 'app/f1', 0o640, { uid: 65534, gid: 65534 }),
    hardlink('app/f1-link2', 'app/f1', 0o640, { uid: 65534, gid: 65534 }),
    file(`app/${LONG_NAME}`, 'long name\n'),
    dir('app/deep'),
    ...DEEP_DIR.split('/').map((_, i, parts) => dir(`app/deep/${parts.slice(0, i + 1).join('/')}`)),
    file(`app/deep/${DEEP_DIR}/leaf.txt`, 'deep\n'),
    file('app/ünïcødé.txt', 'utf-8 name\n'),
  ],
};

export const app2Layer: Layer = {
  uncompressed: true,
  entries: [dir('bin'), file('bin/.wh.setgid-tool', ''), dir('srv'), file('srv/index.html', '<h1>app2</h1>\n'), file('srv/empty', '')],
};

const archLayer = (arch: string): Layer => ({
  entries: [dir('arch'), file('arch/name', `${arch}\n`), file('arch/blob', pseudoRandom(1000, arch.length))],
});

/** A layer of `size` bytes that compresses to almost nothing: fills a small disk, pushes in a blink. */
export function fillerLayer(size: number): Layer {
  const chunk = Buffer.from('gdib-filler-'.repeat(100));
  const content = Buffer.alloc(size);
  for (let i = 0; i < size; i += chunk.length) chunk.copy(content, i);
  return { entries: [dir('filler'), file('filler/blob', content)] };
}

/** Size of the `huge` image's one file: more than a 32 MiB data disk holds. */
export const HUGE_BYTES = 48 * 1024 * 1024;

export const tags = {
  base: 'base',
  app: 'app',
  app2: 'app2',
  multi: 'multi',
  huge: 'huge',
  app2Next: 'app2-next',
} as const;

/** The next release of `app2`: one more layer on top of its two (the incremental-build tests). */
export const app2NextLayer: Layer = {
  entries: [
    dir('srv'),
    file('srv/index.html', '<h1>app2, next release</h1>\n'),
    file('srv/release.bin', pseudoRandom(40_000, 11)),
    file('srv/.wh.empty', ''),
  ],
};

/** Writes `app2-next` (app2 and one more layer) into an OCI layout of its own. */
export function writeApp2Next(dirPath: string): void {
  const layout = new OciLayout(dirPath);
  layout.addImage(tags.app2Next, { layers: [baseLayer, app2Layer, app2NextLayer] });
  layout.close();
}

/** Writes all test images into one OCI layout; each becomes `<repo>:<tag>` after pushing. */
export function writeTestImages(dirPath: string, opts: { huge?: boolean } = {}): OciLayout {
  const layout = new OciLayout(dirPath);
  layout.addImage(tags.base, { layers: [baseLayer] });
  layout.addImage(tags.app, { layers: [baseLayer, appLayer] });
  layout.addImage(tags.app2, { layers: [baseLayer, app2Layer] });
  layout.addIndex(tags.multi, [
    { layers: [archLayer('amd64')], platform: { os: 'linux', architecture: 'amd64' } },
    { layers: [archLayer('arm64')], platform: { os: 'linux', architecture: 'arm64' } },
  ]);
  if (opts.huge) layout.addImage(tags.huge, { layers: [fillerLayer(HUGE_BYTES)] });
  layout.close();
  return layout;
}
