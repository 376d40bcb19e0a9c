// What flows between steps (docs/architecture.md, Workflow): every step declares the state it reads,
// uses and writes; a step list in which a step reads what no earlier step is sure to have written is refused when
// it is built; and the declarations are what the code touches.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepsFor } from '../../src/builder/index.js';
import { checkStepFlow } from '../../src/builder/step-flow.js';
import { RUN_OWNED_STATE, type StateKey } from '../../src/builder/context.js';
import type { Step } from '../../src/builder/steps/step.js';
import { buildFlags, parseConfig } from '../helpers/plan.js';
import type { RawFlags } from '../../src/config/flag.js';

const STEPS_DIR = resolve('src/builder/steps');
/** Modules of src/builder/steps that hold no step. */
const NOT_STEPS = new Set(['step.ts', 'script-input.ts', 'registry-secrets.ts']);
/** Modules whose state accesses are not a step's: the run's own bookkeeping and the step machinery. */
const NOT_HELPERS = new Set(['context.ts', 'index.ts', 'runner.ts', 'step-flow.ts', 'events.ts']);

const stepFiles = readdirSync(STEPS_DIR).filter((f) => f.endsWith('.ts') && !NOT_STEPS.has(f));

/** A module's top-level declarations (functions and constants), each with its text. */
function chunksOf(text: string): Map<string, string> {
  const chunks = new Map<string, string>();
  const starts = [...text.matchAll(/^(?:export\s+)?(?:async\s+)?(?:function|const|class)\s+(\w+)/gm)];
  starts.forEach((m, i) => chunks.set(m[1]!, text.slice(m.index, starts[i + 1]?.index ?? text.length)));
  return chunks;
}

/** name → the builder module it is imported from, for the value imports of a module inside src/builder. */
function importsOf(file: string, text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^import\s+\{([^}]*)\}\s*from\s+'(\.[^']+)'/gm)) {
    const target = resolve(dirname(file), m[2]!).replace(/\.js$/, '.ts');
    if (!target.startsWith(resolve('src/builder') + '/')) continue;
    if (NOT_HELPERS.has(target.slice(resolve('src/builder').length + 1))) continue;
    for (const n of m[1]!.split(',')) {
      const name = n.trim();
      if (name && !name.startsWith('type ')) out.set(name.split(/\s+as\s+/).at(-1)!, target);
    }
  }
  return out;
}

/**
 * The `state.X` fields a text touches, following the helpers it calls: a top-level function or constant of the same
 * module, or one imported from another builder module (only the declaration named, not the whole module).
 */
function touched(file: string, text: string, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  const full = readFileSync(file, 'utf8');
  const chunks = chunksOf(full);
  const imports = importsOf(file, full);
  const visit = (f: string, text: string) => {
    // Comments and strings name fields and helpers without touching them.
    const body = text
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(^|[^:])\/\/.*$/gm, '$1')
      .replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g, "''");
    for (const m of body.matchAll(/\bstate\.(\w+)/g)) out.add(m[1]!);
    const local = chunksOf(readFileSync(f, 'utf8'));
    const imp = importsOf(f, readFileSync(f, 'utf8'));
    // A name after a dot is a property, not a helper.
    for (const id of new Set(body.match(/(?<![.\w$])[A-Za-z_$][\w$]*/g) ?? [])) {
      const key = `${f}#${id}`;
      if (seen.has(key)) continue;
      if (local.has(id)) {
        seen.add(key);
        visit(f, local.get(id)!);
      } else if (imp.has(id)) {
        seen.add(key);
        const target = imp.get(id)!;
        const chunk = chunksOf(readFileSync(target, 'utf8')).get(id);
        if (chunk) visit(target, chunk);
      }
    }
  };
  void chunks;
  void imports;
  visit(file, text);
  return out;
}

/** The fields a step declares; a `reads` that depends on the run is read from its source (the keys it can name). */
function declared(step: Step<never>): Set<string> {
  const reads =
    typeof step.reads === 'function'
      ? [...step.reads.toString().matchAll(/\[([^\]]*)\]/g)].flatMap((a) => [...a[1]!.matchAll(/['"](\w+)['"]/g)].map((m) => m[1]!))
      : (step.reads ?? []);
  return new Set([...reads, ...(step.uses ?? []), ...(step.writes ?? [])]);
}

/** The flags of a local build (no --zone: it has no VM). */
function localBuild(extra: RawFlags = {}): RawFlags {
  const { zone: _zone, ...flags } = buildFlags({ local: 'true', ...extra });
  return flags;
}

/** The flags of a verify (no --container-image). */
function verifyFlags(): RawFlags {
  const { 'container-image': _images, ...flags } = buildFlags();
  return flags;
}

const isStep = (v: unknown): v is Step<never> =>
  !!v && typeof v === 'object' && typeof (v as Step).name === 'string' && typeof (v as Step).run === 'function';

describe('step declarations', () => {
  it('one step per file in src/builder/steps', async () => {
    for (const f of stepFiles) {
      const mod = (await import(join(STEPS_DIR, f))) as Record<string, unknown>;
      const steps = Object.values(mod).filter(isStep);
      expect(
        steps.map((s) => s.name),
        f,
      ).toHaveLength(1);
    }
  });

  it.each(stepFiles)('%s declares every state field it (and the helpers it imports) touches, and no other', async (f) => {
    const mod = (await import(join(STEPS_DIR, f))) as Record<string, unknown>;
    const step = Object.values(mod).find(isStep)!;
    const path = join(STEPS_DIR, f);
    const uses = touched(path, readFileSync(path, 'utf8'));
    const decl = declared(step);
    const undeclared = [...uses].filter((k) => !decl.has(k) && !RUN_OWNED_STATE.includes(k as StateKey));
    expect(undeclared, `${step.name} touches these without declaring them`).toEqual([]);
    const unused = [...decl].filter((k) => !uses.has(k));
    expect(unused, `${step.name} declares these but never touches them`).toEqual([]);
  });
});

describe('checkStepFlow', () => {
  it('refuses a step that reads what no step before it writes, naming the step and the field', () => {
    expect(() =>
      checkStepFlow([
        { name: 'pack-archive', reads: ['localDisk'], writes: ['archive'] },
        { name: 'local-bake', writes: ['localDisk'] },
      ]),
    ).toThrow(/step "pack-archive" reads state\.localDisk, but no step before it writes it/);
    expect(() =>
      checkStepFlow([
        { name: 'local-bake', writes: ['localDisk'] },
        { name: 'pack-archive', reads: ['localDisk'], writes: ['archive'] },
      ]),
    ).not.toThrow();
  });

  it('does not count what a step --if-changed may skip writes for a step that is not skipped with it', () => {
    const writer = { name: 'w', writes: ['archive' as const], skippedWhenUnchanged: true };
    expect(() => checkStepFlow([writer, { name: 'r', reads: ['archive'] }])).toThrow(/only a step that --if-changed may skip/);
    expect(() => checkStepFlow([writer, { name: 'r', reads: ['archive'], skippedWhenUnchanged: true }])).not.toThrow();
  });

  it('does not count what a step running alongside writes: it may not have finished', () => {
    expect(() =>
      checkStepFlow([
        { name: 'w', writes: ['archive'], alongside: true },
        { name: 'r', reads: ['archive'] },
      ]),
    ).toThrow(/only a step running alongside writes it/);
  });

  it("the run's own fields need no writer", () => {
    expect(() => checkStepFlow([{ name: 'r', reads: RUN_OWNED_STATE }])).not.toThrow();
  });
});

describe('the step lists of every kind of run pass the check, and state flows as declared', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gdib-flow-'));
  const file = join(dir, 'disk.raw');
  writeFileSync(file, Buffer.alloc(4096));
  const all = {
    'if-changed': 'true',
    'image-family-name': 'fam',
    'k8s-manifests-filepath': join(dir, 'm.yaml'),
    'deprecate-after': '30d',
  };
  const cases: Array<[string, RawFlags, { mode?: 'verify'; positionals?: string[] }?]> = [
    ['vm build', buildFlags()],
    ['vm build, --if-changed, --incremental, manifests, lifetime', buildFlags({ ...all, incremental: 'true' })],
    ['vm build, --base-image, --force', buildFlags({ 'base-image': 'projects/p/global/images/base', force: 'true' })],
    ['vm build, --base-image, --if-changed', buildFlags({ ...all, 'base-image': 'projects/p/global/images/base' })],
    ['verify', verifyFlags(), { mode: 'verify' }],
    ['local build', localBuild({ ...all })],
    ['local archive', { local: 'true', output: join(dir, 'out.tar.gz'), 'container-image': ['nginx:1'] }],
    ['verify --local', { local: 'true' }, { mode: 'verify', positionals: [file] }],
  ];
  for (const [what, flags, opts] of cases) {
    for (const dry of [false, true]) {
      it(`${what}${dry ? ', --dry-run' : ''}`, () => {
        const config = parseConfig({ ...flags, ...(dry ? { 'dry-run': 'true' } : {}) }, {}, { cwd: dir, ...opts });
        const steps = stepsFor(config.plan);
        expect(steps.length).toBeGreaterThan(0);
        // The same check, done by hand: every read has a writer before it.
        for (const [i, s] of steps.entries())
          for (const k of s.reads)
            expect(RUN_OWNED_STATE.includes(k) || steps.slice(0, i).some((w) => w.writes.includes(k)), `${s.name} reads ${k}`).toBe(true);
      });
    }
  }

  it('choose-base with --base-image reads what preflight checked: a list without preflight is refused', () => {
    const config = parseConfig(buildFlags({ 'base-image': 'projects/p/global/images/base' }), {});
    const steps = stepsFor(config.plan);
    expect(steps.find((s) => s.name === 'choose-base')!.reads).toEqual(['checkedBase']);
    expect(() => checkStepFlow(steps.filter((s) => s.name !== 'preflight'))).toThrow(/step "choose-base" reads state\.checkedBase/);
  });

  it('a local build imports the image from the uploaded archive: create-image reads archiveUrl there only', () => {
    const local = stepsFor(parseConfig(localBuild(), {}).plan);
    expect(local.find((s) => s.name === 'create-image')!.reads).toEqual(['archiveUrl']);
    expect(() => checkStepFlow(local.filter((s) => s.name !== 'upload-archive'))).toThrow(/step "create-image" reads state\.archiveUrl/);
    expect(stepsFor(parseConfig(buildFlags(), {}).plan).find((s) => s.name === 'create-image')!.reads).toEqual([]);
  });
});
