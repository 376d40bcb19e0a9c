// The snapshot checksum, computed in TypeScript the way the Go tool's script does in bash:
//   find <dir> -type f -exec md5sum {} + | cut -d' ' -f1 | LC_ALL=C sort | md5sum | cut -d' ' -f1
// md5sum marks a line whose file name holds a backslash or a newline with a leading `\` (coreutils 8.32,
// the Go tool's Debian 11 VMs), and `cut` keeps it: such a file contributes `\<hex>`. The prefix of the
// path (the mount point) has neither character, so only the part under <dir> matters.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';

const SLASH = Buffer.from('/');

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** The md5 lines of every regular file under `dir`, before sorting: `[\]<hex>`. */
export function digestLines(dir: string): string[] {
  const lines: string[] = [];
  // Names are handled as bytes: a name need not be valid UTF-8.
  const walk = (abs: Buffer, rel: Buffer) => {
    for (const name of readdirSync(abs, { encoding: 'buffer' })) {
      const childAbs = Buffer.concat([abs, SLASH, name]);
      const childRel = Buffer.concat([rel, SLASH, name]);
      const st = lstatSync(childAbs);
      if (st.isDirectory()) walk(childAbs, childRel);
      else if (st.isFile()) {
        const escaped = childRel.includes(0x5c) || childRel.includes(0x0a);
        lines.push(`${escaped ? '\\' : ''}${md5(readFileSync(childAbs))}`);
      }
    }
  };
  walk(Buffer.from(dir), Buffer.from('.'));
  return lines;
}

/** The checksum snapshots.metadata must hold for the snapshot directory `dir`. */
export function goToolChecksum(dir: string): string {
  const lines = digestLines(dir);
  // LC_ALL=C sort is a byte-wise sort; these lines are ASCII, so code-unit order is byte order.
  lines.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return md5(lines.map((l) => `${l}\n`).join(''));
}
