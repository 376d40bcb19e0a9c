// A small POSIX tar writer and reader (ustar + PAX extended headers), enough to write container image
// layers with every feature the disk must keep (xattrs, long names, hard links, setuid, owners) and to
// read them back independently of containerd. No dependencies: layers are built in memory.

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';

export interface TarEntry {
  /** Relative path, no leading `/` and no trailing `/` (directories included). */
  path: string;
  type: EntryType;
  /** Permission bits including setuid/setgid/sticky (07777). */
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  content?: Buffer;
  /** Target of a symlink, or the path (relative, like `path`) a hard link points at. */
  linkname?: string;
  xattrs?: Record<string, string>;
}

const BLOCK = 512;
const TYPEFLAG: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5', fifo: '6' };
const DEFAULT_MTIME = 1_700_000_000;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  // "<len> key=value\n" where <len> counts the whole record, its own digits included.
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let total = bodyLen + 1;
  while (total !== bodyLen + String(total).length) total = bodyLen + String(total).length;
  return Buffer.from(`${total}${body}`);
}

function header(
  name: string,
  e: { type: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string },
): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(e.uid, 8), 108, 'ascii');
  h.write(octal(e.gid, 8), 116, 'ascii');
  h.write(octal(e.size, 12), 124, 'ascii');
  h.write(octal(e.mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(e.type, 156, 'ascii');
  h.write(e.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function pad(buf: Buffer): Buffer[] {
  const rest = buf.length % BLOCK;
  return rest === 0 ? [buf] : [buf, Buffer.alloc(BLOCK - rest)];
}

/** Serialises entries (in the given order) into an uncompressed tar stream. */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const linkname = e.linkname ?? '';
    const content = e.type === 'file' ? (e.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const pax: Buffer[] = [];
    const ascii = (s: string) => /^[\x20-\x7e]*$/.test(s);
    if (Buffer.byteLength(name) > 100 || !ascii(name)) pax.push(paxRecord('path', name));
    if (Buffer.byteLength(linkname) > 100 || !ascii(linkname)) pax.push(paxRecord('linkpath', linkname));
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.push(paxRecord(`SCHILY.xattr.${k}`, v));
    const meta = { mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime: e.mtime ?? DEFAULT_MTIME };
    if (pax.length > 0) {
      const body = Buffer.concat(pax);
      out.push(header('PaxHeaders/entry', { ...meta, type: 'x', mode: 0o644, size: body.length, linkname: '' }), ...pad(body));
    }
    out.push(header(name.slice(0, 100), { ...meta, type: TYPEFLAG[e.type], size: content.length, linkname: linkname.slice(0, 100) }));
    if (content.length > 0) out.push(...pad(content));
  }
  out.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(out);
}

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function num(h: Buffer, start: number, len: number): number {
  const s = field(h, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    const space = body.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(body.subarray(pos, space).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = body.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    records.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return records;
}

const TYPE_OF: Record<string, EntryType | undefined> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'dir',
  '6': 'fifo',
};

/** Parses an uncompressed tar stream. Paths come back without `./`, leading `/` or trailing `/`. */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let pos = 0;
  let pax = new Map<string, string>();
  while (pos + BLOCK <= tar.length) {
    const h = tar.subarray(pos, pos + BLOCK);
    if (h.every((b) => b === 0)) break;
    const flag = String.fromCharCode(h[156] ?? 0);
    const size = num(h, 124, 12);
    const body = tar.subarray(pos + BLOCK, pos + BLOCK + size);
    pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x') {
      pax = parsePax(body);
      continue;
    }
    if (flag === 'g') continue;
    const type = TYPE_OF[flag];
    if (!type) throw new Error(`tar: unsupported entry type ${JSON.stringify(flag)}`);
    const prefix = field(h, 345, 155);
    let path = pax.get('path') ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    path = path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
    const xattrs: Record<string, string> = {};
    for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = v;
    const entry: TarEntry = {
      path,
      type,
      mode: num(h, 100, 8) & 0o7777,
      uid: Number(pax.get('uid') ?? num(h, 108, 8)),
      gid: Number(pax.get('gid') ?? num(h, 116, 8)),
      mtime: Math.floor(Number(pax.get('mtime') ?? num(h, 136, 12))),
      xattrs,
    };
    if (type === 'file') entry.content = Buffer.from(body);
    if (type === 'symlink' || type === 'hardlink') {
      entry.linkname = pax.get('linkpath') ?? field(h, 157, 100);
      if (type === 'hardlink') entry.linkname = entry.linkname.replace(/^(\.\/|\/)+/, '');
    }
    entries.push(entry);
    pax = new Map();
  }
  return entries;
}
