import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sanitizeLine, sanitizeText } from '../../src/io/sanitize.js';
import { shellCommand, shellQuote } from '../../src/io/shell-quote.js';

describe('sanitize', () => {
  it.each([
    ['\u001b]0;TITLE\u0007', '\\u001b]0;TITLE\\u0007'],
    ['\u001bc reset', '\\u001bc reset'],
    ['over\rwrite', 'over\\u000dwrite'],
    ['8-bit CSI \u009b31m', '8-bit CSI \\u009b31m'],
    ['bidi \u202eevil', 'bidi \\u202eevil'],
    ['tab\tkept', 'tab\tkept'],
    ['two\nlines', 'two\\u000alines'],
    ['plain text, ünïcode ✓', 'plain text, ünïcode ✓'],
  ])('a line: %j', (input, expected) => expect(sanitizeLine(input)).toBe(expected));

  it('text of several lines keeps its newlines, and the escapes are valid JSON escapes', () => {
    expect(sanitizeText('a\nb\u001b[2J')).toBe('a\nb\\u001b[2J');
    expect(JSON.parse(`"${sanitizeLine('\u001b\u0007')}"`)).toBe('\u001b\u0007');
  });
});

describe('shellQuote', () => {
  it.each([
    ['plain-name_1', 'plain-name_1'],
    ['/tmp/my dir/gdib-x', `'/tmp/my dir/gdib-x'`],
    ['$(rm -rf ~)', `'$(rm -rf ~)'`],
    ["it's", `'it'\\''s'`],
    ['`id`;', "'`id`;'"],
    ['', "''"],
  ])('%j', (word, expected) => expect(shellQuote(word)).toBe(expected));

  it('a command round-trips through a real shell as the same words', () => {
    const words = ['rm', '-rf', '--', '/tmp/a dir/$(x)', "q'uote", 'tab\there'];
    const out = execFileSync('bash', ['-c', `printf '%s\\n' ${shellCommand(...words.slice(1))}`]);
    expect(String(out).split('\n').slice(0, -1)).toEqual(words.slice(1));
  });
});
