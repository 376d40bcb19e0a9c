// Commands `doctor` prints for the user to paste: each word quoted for a POSIX shell only when it needs it, so the
// common case reads plainly and nothing taken from the cloud (a pool name, a pattern) can run as shell code.

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellWord(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(words: readonly string[]): string {
  return words.map(shellWord).join(' ');
}
