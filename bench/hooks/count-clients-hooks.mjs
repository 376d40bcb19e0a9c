// Module hooks behind count-clients.mjs. The two Google client packages (and each compute client module loaded on its
// own, `@google-cloud/compute/build/src/v1/<name>_client.js`) are replaced by a generated wrapper module that
// re-exports everything and wraps each client class in a Proxy that reports its constructions.
const WRAPPED = new Set(['@google-cloud/compute', '@google-cloud/storage']);
const wrapped = (s) => WRAPPED.has(s) || s.startsWith('@google-cloud/compute/');
const MARK = 'gdib-bench-wrap=';

const bare = (s) => !s.startsWith('.') && !s.startsWith('/') && !/^[a-z]+:/.test(s);
const say = (line) => process.stderr.write(`gdib-bench ${line}\n`);

export async function resolve(specifier, context, next) {
  if (bare(specifier)) say(`import ${specifier}`);
  const resolved = await next(specifier, context);
  if (wrapped(specifier)) {
    const sep = resolved.url.includes('?') ? '&' : '?';
    return { ...resolved, url: `${resolved.url}${sep}${MARK}${encodeURIComponent(specifier)}`, format: 'module', shortCircuit: true };
  }
  return resolved;
}

export async function load(url, context, next) {
  const at = url.indexOf(MARK);
  if (at < 0) return next(url, context);
  const pkg = decodeURIComponent(url.slice(at + MARK.length));
  const real = url.slice(0, at - 1);
  // The export names, read in this (hooks) thread; the application thread evaluates the package once, below.
  const names = Object.keys(await import(real)).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
  const isClient = pkg === '@google-cloud/storage' ? (n) => n === 'Storage' : (n) => /Client$/.test(n);
  const source = [
    `process.stderr.write('gdib-bench load ${pkg}\\n');`,
    `import * as __gdibReal from ${JSON.stringify(real)};`,
    `const __gdibWrap = (name, value) => typeof value !== 'function' ? value : new Proxy(value, {`,
    `  construct(target, args, newTarget) { process.stderr.write('gdib-bench construct ${pkg} ' + name + '\\n'); return Reflect.construct(target, args, newTarget); },`,
    `});`,
    ...names.map((n) =>
      isClient(n)
        ? `export const ${n} = __gdibWrap(${JSON.stringify(n)}, __gdibReal[${JSON.stringify(n)}]);`
        : `export const ${n} = __gdibReal[${JSON.stringify(n)}];`,
    ),
    `export default __gdibReal.default;`,
  ].join('\n');
  return { format: 'module', source, shortCircuit: true };
}
