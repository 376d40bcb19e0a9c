// The layers of src/ (docs/architecture.md, Layers), checked by `npm run lint`: a small local ESLint plugin, so no
// dependency is needed for two rules. `layers/direction`: a module imports only from its own layer or lower ones
// (an upward `import type` is erased at compile time and allowed). `layers/no-cycle`: no chain of static imports
// leads from a module back to itself. Only static value imports count: `await import()` is the lazy loading the
// architecture asks for, and type imports do not exist at run time. test/layers.test.ts runs the same graph.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Lowest first; a module may import from its own rank or a lower one. The key is the first path segment under
 * src/ (a directory, or a file at the top).
 */
export const LAYERS = [
  ['errors.ts', 'version.ts'],
  // Utilities for every layer above: aborts, redaction, shell quoting, sanitising, rendering; the VM contract and agent.
  ['io', 'vm'],
  ['k8s', 'local', 'startup-script'],
  ['config'],
  ['registry'],
  ['gcp'],
  ['builder'],
  ['commands'],
  ['cli.ts'],
];

/** The layer of a file under src/ (its first path segment), or undefined outside src/. */
export function layerOf(root, file) {
  const rel = relative(join(root, 'src'), file);
  if (rel.startsWith('..')) return undefined;
  return rel.split(/[\\/]/)[0];
}

export function rankOf(layer) {
  return LAYERS.findIndex((names) => names.includes(layer));
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s+['"]([^'"]+)['"]/gm;

/** The static value imports of a source text: relative specifiers only (packages are not layers). */
export function valueImports(text) {
  const out = [];
  for (const m of text.matchAll(IMPORT)) {
    const [, , typeOnly, clause, spec] = m;
    if (typeOnly || !spec.startsWith('.')) continue;
    // `import { type A, type B } from` names types only; `export * from` and default imports are values.
    const braces = /^\{([^}]*)\}$/.exec(clause.trim());
    if (braces && braces[1].split(',').every((s) => !s.trim() || /^type\s/.test(s.trim()))) continue;
    out.push(spec);
  }
  for (const m of text.matchAll(SIDE_EFFECT)) if (m[1].startsWith('.')) out.push(m[1]);
  return out;
}

/** The file a relative specifier of `from` names (`./x.js` is `./x.ts` in the sources). */
export function resolveSpecifier(from, spec) {
  const target = resolve(dirname(from), spec);
  return target.replace(/\.js$/, '.ts');
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(entry) && !entry.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** file → the files it imports statically (values only), for every source file under `dirs`. */
export function importGraph(root, dirs = ['src']) {
  const graph = new Map();
  for (const dir of dirs) {
    for (const file of sourceFiles(join(root, dir))) {
      graph.set(
        file,
        valueImports(readFileSync(file, 'utf8')).map((s) => resolveSpecifier(file, s)),
      );
    }
  }
  return graph;
}

/** Every cycle of the graph, each as the files along it (first repeated at the end), shortest first. */
export function cycles(graph) {
  const found = [];
  const seen = new Set();
  for (const start of graph.keys()) {
    // Breadth-first from each file back to itself: the shortest cycle through it.
    const prev = new Map([[start, undefined]]);
    const queue = [start];
    let closing;
    while (queue.length && !closing) {
      const file = queue.shift();
      for (const next of graph.get(file) ?? []) {
        if (next === start) {
          closing = file;
          break;
        }
        if (!prev.has(next) && graph.has(next)) {
          prev.set(next, file);
          queue.push(next);
        }
      }
    }
    if (!closing) continue;
    const path = [start];
    for (let f = closing; f !== start; f = prev.get(f)) path.splice(1, 0, f);
    const key = [...path].sort().join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    found.push([...path, start]);
  }
  return found.sort((a, b) => a.length - b.length);
}

/** Why `file` may not import `target`, or undefined (only files under src/ are judged). */
export function directionProblem(root, file, target) {
  const from = layerOf(root, file);
  const to = layerOf(root, target);
  if (from !== undefined && /^bench([\\/]|$)/.test(relative(root, target)))
    return 'the product never imports bench/ (docs/architecture.md, Layers): the benchmarks stay outside its import graph';
  if (from === undefined || to === undefined || from === to) return undefined;
  const a = rankOf(from);
  const b = rankOf(to);
  if (a < 0) return `src/${from} is in no layer: add it to LAYERS in eslint/layers.mjs and to docs/architecture.md, Layers`;
  if (b < 0) return `src/${to} is in no layer: add it to LAYERS in eslint/layers.mjs and to docs/architecture.md, Layers`;
  if (b > a)
    return `${from} may not import ${to}, a higher layer (docs/architecture.md, Layers): use \`import type\`, \`await import()\` after validation, or move the code down`;
  return undefined;
}

let cached;
function graphOf(root) {
  // bench/ is in the graph too: no cycle among the benchmarks' modules either.
  if (!cached || cached.root !== root) cached = { root, graph: importGraph(root, ['src', 'bench']), cycles: undefined };
  return cached;
}

/** The ESLint plugin: `layers/direction` and `layers/no-cycle`, for the files under src/. */
export function layersPlugin(root) {
  const importNode = (node) => node.source && node.importKind !== 'type' && node.exportKind !== 'type';
  return {
    rules: {
      direction: {
        meta: { type: 'problem', schema: [] },
        create(context) {
          const check = (node) => {
            if (!importNode(node) || !String(node.source.value).startsWith('.')) return;
            const specifiers = node.specifiers ?? [];
            if (specifiers.length && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type')) return;
            const problem = directionProblem(root, context.filename, resolveSpecifier(context.filename, String(node.source.value)));
            if (problem) context.report({ node: node.source, message: problem });
          };
          return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
        },
      },
      'no-cycle': {
        meta: { type: 'problem', schema: [] },
        create(context) {
          return {
            Program(node) {
              const g = graphOf(root);
              g.cycles ??= cycles(g.graph);
              const mine = g.cycles.find((c) => c[0] === context.filename);
              if (mine)
                context.report({
                  node,
                  message: `import cycle: ${mine.map((f) => relative(root, f)).join(' → ')} (docs/architecture.md, Layers)`,
                });
            },
          };
        },
      },
    },
  };
}
