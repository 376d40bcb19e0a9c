// Commands the tool prints for a person to run (a hand-deletion after a failed cleanup, the next steps) are
// pasted into a shell: every word that is not plainly safe is single-quoted, so a path with a space or a `$(`
// stays one word and runs nothing (docs/architecture.md, Hostile input).

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `word` as one shell word. */
export function shellQuote(word: string): string {
  if (PLAIN.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line of these words, each quoted as needed. */
export function shellCommand(...words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
