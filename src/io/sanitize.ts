// Text the tool did not write itself — the VM's console, a registry's or an API's error, a value from the command
// line — may hold control characters: an escape sequence that retitles or resets the terminal, a carriage return
// that overwrites the line before it, a bidirectional override that shows text in another order. Everything the
// CLI prints passes through here (docs/architecture.md, Hostile input): every control character but tab (and,
// for text of several lines, newline) is written as a \uXXXX escape, which is also valid inside a JSON string.

// C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// eslint-disable-next-line no-control-regex -- the same, newline allowed
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One line of foreign text made safe to print: every control character but tab escaped, newlines included. */
export function sanitizeLine(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** Text of several lines made safe to print: as sanitizeLine, but newlines are kept. */
export function sanitizeText(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escape);
}
