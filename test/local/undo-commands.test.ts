// The hand-cleanup text of a local run (docs/architecture.md, Workflow): the `umount`s first, then `losetup -d`
// or `rm -rf`, every path one shell word whatever it holds — checked by letting a real shell read it back.
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/io/shell-quote.js';
import { undoCommands } from '../../src/local/disk.js';

/** The words a shell reads out of `command` (each printed between brackets). */
const wordsOf = (command: string) => execFileSync('sh', ['-c', `printf '[%s]' ${command}`], { encoding: 'utf8' });

describe('undo commands', () => {
  it('a quoted path is read back by the shell as exactly that one word', () => {
    const paths = fc.sample(
      fc.string({ minLength: 1, maxLength: 30, unit: 'binary' }).filter((s) => !s.includes('\0')),
      { numRuns: 300, seed: 20 },
    );
    paths.push("it's", 'a b', '$(reboot)', '`id`', 'x\ny', '-rf', '*', '~');
    expect(wordsOf(paths.map(shellQuote).join(' '))).toBe(paths.map((p) => `[${p}]`).join(''));
  });

  it('names the umounts before the losetup -d or the rm -rf', () => {
    const mnt = "/tmp/a dir/it's $HOME/mnt";
    expect(undoCommands({ mounts: [mnt, '/tmp/x/w'], device: '/dev/loop7' })).toBe(
      `umount '/tmp/a dir/it'\\''s $HOME/mnt' && umount /tmp/x/w && losetup -d /dev/loop7`,
    );
    expect(undoCommands({ mounts: [mnt], dir: '/tmp/a dir' })).toBe(`umount '/tmp/a dir/it'\\''s $HOME/mnt' && rm -rf -- '/tmp/a dir'`);
    expect(undoCommands({ device: '/dev/loop0' })).toBe('losetup -d /dev/loop0');
  });
});
