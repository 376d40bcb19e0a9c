/**
 * Compute Engine list filters and paging.
 *
 * Supported filter grammar (a subset of GCE's): comparisons `field op value` where field is a
 * dotted path into the resource as the API returns it (`labels.gdib-run`, `name`, `status`),
 * op is `=`, `!=`, `:` (has; `labels.k:*` tests presence), `<`, `<=`, `>`, `>=` or the legacy
 * `eq`/`ne` (RE2 full match); values bare or quoted; `*` is a wildcard in `=`, `!=` and `:`.
 * Comparisons combine with `AND` (or juxtaposition, as `(a = "1") (b = "2")`), `OR`, `NOT`
 * and parentheses. Anything else is a 400, so a filter the emulator cannot check never passes.
 */
import { invalid } from '../errors.js';

type Resource = Record<string, unknown>;
type Predicate = (r: Resource) => boolean;

const TOKEN = /\s*(\(|\)|"(?:[^"\\]|\\.)*"|'[^']*'|!=|<=|>=|=|:|<|>|[^\s()=!:<>"']+)/y;
const OPS = new Set(['=', '!=', ':', '<', '<=', '>', '>=', 'eq', 'ne']);

export function compileFilter(filter: string | null | undefined): Predicate {
  if (!filter || filter.trim() === '') return () => true;
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < filter.length) {
    const m = TOKEN.exec(filter);
    if (!m) {
      if (filter.slice(TOKEN.lastIndex).trim() === '') break;
      throw invalid(`Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`);
    }
    tokens.push(m[1]!);
  }
  let pos = 0;
  const fail = (): never => {
    throw invalid(`Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`);
  };
  const peek = (): string | undefined => tokens[pos];

  function orExpr(): Predicate {
    let left = andExpr();
    while (peek() === 'OR') {
      pos++;
      const l = left;
      const r = andExpr();
      left = (x) => l(x) || r(x);
    }
    return left;
  }
  function andExpr(): Predicate {
    let left = unary();
    while (peek() !== undefined && peek() !== ')' && peek() !== 'OR') {
      if (peek() === 'AND') pos++;
      const l = left;
      const r = unary();
      left = (x) => l(x) && r(x);
    }
    return left;
  }
  function unary(): Predicate {
    if (peek() === 'NOT') {
      pos++;
      const inner = unary();
      return (x) => !inner(x);
    }
    if (peek() === '(') {
      pos++;
      const inner = orExpr();
      if (tokens[pos++] !== ')') fail();
      return inner;
    }
    const field = tokens[pos++];
    const op = tokens[pos++];
    const rawValue = tokens[pos++];
    if (field === undefined || op === undefined || rawValue === undefined || !OPS.has(op)) return fail();
    return comparison(field, op, unquote(rawValue));
  }

  const predicate = orExpr();
  if (pos !== tokens.length) fail();
  return predicate;
}

function comparison(field: string, op: string, value: string): Predicate {
  const path = field.split('.');
  const get = (r: Resource): unknown => path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Resource)[k] : undefined), r);
  const glob = new RegExp(`^${value.split('*').map(escape).join('.*')}$`);
  return (r) => {
    const v = get(r);
    if (op === ':' && value === '*') return v !== undefined;
    if (v === undefined) return op === '!=' || op === 'ne';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    switch (op) {
      case '=':
      case ':':
        return glob.test(s);
      case '!=':
        return !glob.test(s);
      case 'eq':
        return new RegExp(`^(?:${value})$`).test(s);
      case 'ne':
        return !new RegExp(`^(?:${value})$`).test(s);
      case '<':
        return s < value;
      case '<=':
        return s <= value;
      case '>':
        return s > value;
      default:
        return s >= value;
    }
  };
}

const escape = (s: string): string => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

function unquote(token: string): string {
  if (token.startsWith('"')) return token.slice(1, -1).replace(/\\(.)/g, '$1');
  if (token.startsWith("'")) return token.slice(1, -1);
  return token;
}

/** One page of `items` (sorted by name) per `maxResults` (≤500) and `pageToken`. */
export function page<T extends { name?: unknown }>(items: T[], query: URLSearchParams): { items: T[]; nextPageToken?: string } {
  const max = Math.min(Number(query.get('maxResults') ?? 500) || 500, 500);
  const offset = Number(query.get('pageToken') ?? 0) || 0;
  const sorted = [...items].sort((a, b) => String(a.name).localeCompare(String(b.name)));
  const slice = sorted.slice(offset, offset + max);
  return offset + max < sorted.length ? { items: slice, nextPageToken: String(offset + max) } : { items: slice };
}
