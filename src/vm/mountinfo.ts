// The mount table of this process, read from /proc/self/mountinfo: the agent's system seam and the CLI's `--local`
// cleanup both ask it what is mounted where. Built-in modules only (the agent is bundled from it).
import { readFileSync } from 'node:fs';

export interface Mount {
  target: string;
  source: string;
}

/** Each mount's target and source, octal escapes (`\040` for a space) decoded; none when the table cannot be read. */
export function readMountTable(): Mount[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return info
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const fields = l.split(' ');
      const dash = fields.indexOf('-');
      return { target: decode(fields[4] ?? ''), source: decode(dash >= 0 ? (fields[dash + 2] ?? '') : '') };
    });
}
