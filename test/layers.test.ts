// The layers of src/ (docs/architecture.md, Layers), on the same import graph `npm run lint` checks with the local
// plugin eslint/layers.mjs: no import cycle, no import of a higher layer; and the rules do fire on a planted one.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import { cycles, directionProblem, importGraph, LAYERS, layersPlugin, valueImports } from '../eslint/layers.mjs';

const root = process.cwd();
const rel = (f: string) => f.slice(root.length + 1);

describe('src/', () => {
  const graph = importGraph(root);

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.map(rel).join(' → '))).toEqual([]);
  });

  it('imports only downwards (an upward import is `import type`, or `await import()`)', () => {
    const bad = [...graph].flatMap(([file, targets]) =>
      targets.flatMap((t) => {
        const p = directionProblem(root, file, t);
        return p ? [`${rel(file)} → ${rel(t)}: ${p}`] : [];
      }),
    );
    expect(bad).toEqual([]);
  });

  it('puts every top-level directory and file of src/ in a layer', () => {
    const layered = LAYERS.flat();
    expect(readdirSync(join(root, 'src')).filter((e) => !layered.includes(e))).toEqual([]);
  });
});

describe('the import graph', () => {
  it('counts value imports only', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from './b.js';",
      "import { type C, type D } from './c.js';",
      "import { type E, f } from './e.js';",
      "export * from './g.js';",
      "export type { H } from './h.js';",
      "import './side-effect.js';",
      "import { z } from 'zod';",
      "const lazy = await import('./lazy.js');",
    ].join('\n');
    expect(valueImports(text).sort()).toEqual(['./a.js', './e.js', './g.js', './side-effect.js']);
  });

  it('finds a cycle, once, shortest first', () => {
    const g = new Map([
      ['/a', ['/b']],
      ['/b', ['/c', '/a']],
      ['/c', ['/a']],
      ['/d', ['/a']],
    ]);
    expect(cycles(g)).toEqual([
      ['/a', '/b', '/a'],
      ['/c', '/a', '/b', '/c'],
    ]);
  });
});

describe('the lint rules', () => {
  const lint = (file: string, code: string) => {
    const linter = new Linter({ configType: 'flat' });
    return linter
      .verify(
        code,
        [
          {
            files: ['**/*.ts'],
            languageOptions: { parser: tseslint.parser },
            plugins: { layers: layersPlugin(root) },
            rules: { 'layers/direction': 'error' },
          },
        ],
        join(root, file),
      )
      .map((m) => m.message);
  };

  it('refuses an upward import, and allows it as a type', () => {
    expect(lint('src/config/x.ts', "import { BUILD_FLAGS } from '../commands/build/flags.js';")).toEqual([
      expect.stringMatching(/^config may not import commands, a higher layer/),
    ]);
    expect(lint('src/config/x.ts', "import type { BuildFlags } from '../commands/build/flags.js';")).toEqual([]);
    expect(lint('src/config/x.ts', "import { type BuildFlags } from '../commands/build/flags.js';")).toEqual([]);
    expect(lint('src/commands/x.ts', "import { parseFlags } from '../config/schema.js';")).toEqual([]);
  });
});
