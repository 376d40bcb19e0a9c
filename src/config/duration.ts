// Go's time.ParseDuration syntax ("90s", "20m", "1h30m", "1.5h", "300ms"), returned in milliseconds.
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const WHOLE = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Milliseconds, or undefined when the text is not a Go duration. "0" is valid (as in Go). */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const [, num, unit] of text.matchAll(PART)) total += Number(num) * (UNIT_MS[unit!] ?? NaN);
  if (!Number.isFinite(total)) return undefined;
  return text.startsWith('-') ? -total : total;
}

const DAY_MS = 86_400_000;
const WITH_DAYS = /^(?:(\d+\.?\d*|\.\d+)d)?(.*)$/;

/**
 * An image lifetime: Go duration syntax, plus whole or fractional days in front (`30d`, `1d12h`, `720h`), in
 * milliseconds; undefined when the text is neither.
 */
export function parseLifetime(text: string): number | undefined {
  const m = WITH_DAYS.exec(text);
  if (!m || (m[1] === undefined && m[2] === '')) return undefined;
  const days = m[1] === undefined ? 0 : Number(m[1]) * DAY_MS;
  if (m[2] === '') return days;
  // A sign only makes sense in front of the whole (and a lifetime is never negative): not after the days.
  const rest = /^[-+]/.test(m[2]!) ? undefined : parseGoDuration(m[2]!);
  return rest === undefined ? undefined : days + rest;
}
