// --help and invalid input must not load the Google client libraries (importing them costs seconds).
// Runs the built CLI in a child process with a module-resolution hook that reports every package it loads — the
// checkout's compiled modules, and the npm package (installed from its tarball), whose files are bundles: there
// the hook reports each file loaded, and the bundler's record says which modules each file holds.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installedPackage } from '../helpers/packed.js';

const BIN = 'bin/gke-disk-image-builder.js';
const HOOK = 'test/helpers/trace-imports.mjs';
/** A valid build, run with the import-tracing hook. */
const TRACED_BUILD = [
  '--import',
  `./${HOOK}`,
  BIN,
  '--project-name=test-project',
  '--zone=us-central1-a',
  '--image-name=img',
  '--gcs-path=gs://bucket',
  '--container-image=nginx:1',
];
/** Tracing on, a token, and every Google endpoint on a port nothing listens on. */
const TRACED_UNREACHABLE = {
  GDIB_TRACE_IMPORTS: '1',
  CLOUDSDK_AUTH_ACCESS_TOKEN: 'test-token-123456',
  CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE: 'http://127.0.0.1:9/compute/v1/',
  STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9',
};

function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', `./${HOOK}`, BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GDIB_TRACE_IMPORTS: '1' },
  });
  const loaded = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('import: '))
    .map((l) => l.slice(8));
  return { code: r.status, loaded, stderr: r.stderr };
}

describe('lazy loading', () => {
  it('the CLI is built (npm test runs the build first)', () => {
    expect(existsSync('dist/cli.js')).toBe(true);
  });

  it.each([
    [['--help']],
    [['--image-name=BAD']],
    [['verify', '--zone=nope']],
    [['prune', '--help']],
    [['prune', '--keep=0']],
    [['doctor', '--help']],
    [['doctor', '--cluster=bad']],
  ])('%j loads no Google library', (args) => {
    const r = run(args);
    expect(r.code === 0 || r.code === 2).toBe(true);
    expect(r.loaded.length).toBeGreaterThan(0); // the hook works: it saw commander at least
    expect(r.loaded.filter((m) => /google|gax|grpc|protobuf/.test(m))).toEqual([]);
  });

  it('--help does not even load the schema library (zod)', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.loaded.filter((m) => m === 'zod')).toEqual([]);
  });

  it('a build loads only the compute clients it uses, each from its own module, never the package root', () => {
    // Nothing listens on port 9: preflight fails at once (no retries), after every check has loaded its client.
    const r = spawnSync(process.execPath, [...TRACED_BUILD, '--skip-image-check'], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        GDIB_TUNING: JSON.stringify({ retry: { maxAttempts: 1 } }),
        ...TRACED_UNREACHABLE,
      },
    });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/preflight could not check project test-project/);
    const compute = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('import: @google-cloud/compute'))
      .map((l) => l.slice(8));
    expect(compute).toEqual(expect.arrayContaining(['@google-cloud/compute/build/src/v1/projects_client.js']));
    expect(compute.filter((m) => !/^@google-cloud\/compute\/build\/src\/v1\/[a-z_]+_client\.js$/.test(m))).toEqual([]);
  });

  it('a valid invocation does load them (the hook would notice)', async () => {
    // Nothing listens on this port; the child is stopped as soon as it has loaded the compute client.
    const child = spawn(process.execPath, TRACED_BUILD, {
      env: {
        ...process.env,
        ...TRACED_UNREACHABLE,
      },
    });
    let stderr = '';
    const seen = await new Promise<boolean>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('import: @google-cloud/compute')) resolve(true);
      });
      child.on('exit', () => resolve(stderr.includes('import: @google-cloud/compute')));
    });
    child.kill('SIGKILL');
    expect(seen).toBe(true);
  });
});

describe('lazy loading in the npm package', () => {
  /** dist/bundle-meta.json (esbuild's metafile): output file name → the modules bundled in it. */
  const meta = JSON.parse(readFileSync('dist/bundle-meta.json', 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const inputsOf = new Map(Object.entries(meta.outputs).map(([file, o]) => [basename(file), Object.keys(o.inputs)]));
  let installed: string | undefined;
  const pkg = () => (installed ??= installedPackage());

  /** The modules (paths as bundled, e.g. node_modules/commander/…) in the files a run of the installed package loaded. */
  function modulesLoaded(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, ['--import', resolve(HOOK), join(pkg(), 'bin/gke-disk-image-builder.js'), ...args], {
      encoding: 'utf8',
      cwd: pkg(),
      env: { PATH: process.env.PATH, ...env, GDIB_TRACE_IMPORTS: 'files' },
    });
    const files = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('file: ') && l.includes('/dist/'))
      .map((l) => basename(new URL(l.slice(6)).pathname));
    for (const f of files) expect(inputsOf.has(f), `${f} is a file the bundler wrote`).toBe(true);
    const modules = [...new Set(files.flatMap((f) => inputsOf.get(f)!))];
    const bare = r.stderr.split('\n').filter((l) => l.startsWith('import: '));
    return { code: r.status, files, modules, bare, stderr: r.stderr };
  }
  const google = (modules: string[]) =>
    modules.filter((m) => /node_modules\/(@google-cloud|google-|gaxios|gcp-metadata|@grpc|protobufjs|gtoken)/.test(m));

  it.each([[['--help']], [['--image-name=BAD']], [['verify', '--zone=nope']]])(
    '%j loads no Google library, and no package from outside',
    (args) => {
      const r = modulesLoaded(args);
      expect(r.code === 0 || r.code === 2, r.stderr).toBe(true);
      expect(r.modules.some((m) => m.startsWith('node_modules/commander/'))).toBe(true); // the record works: commander is there
      expect(google(r.modules)).toEqual([]);
      expect(r.bare).toEqual([]); // everything is inside the package
    },
  );

  it('--help does not even load the schema library (zod)', () => {
    const r = modulesLoaded(['--help']);
    expect(r.code).toBe(0);
    expect(r.modules.filter((m) => m.startsWith('node_modules/zod/'))).toEqual([]);
  });

  it('a build loads the compute clients it uses, each from its own module, never the package root, and the compact description', () => {
    const r = modulesLoaded(TRACED_BUILD.slice(3).concat('--skip-image-check'), {
      GDIB_TUNING: JSON.stringify({ retry: { maxAttempts: 1 } }),
      ...TRACED_UNREACHABLE,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/preflight could not check project test-project/);
    const compute = r.modules.filter((m) => m.startsWith('node_modules/@google-cloud/compute/'));
    expect(compute).toEqual(expect.arrayContaining(['node_modules/@google-cloud/compute/build/src/v1/projects_client.js']));
    // Beside the clients: what they require themselves (their configuration, the package's version) and protos.json.
    const others = compute.filter(
      (m) => !/^node_modules\/@google-cloud\/compute\/build\/src\/v1\/[a-z_]+_client(_config\.json|\.js)$/.test(m),
    );
    expect(others.sort()).toEqual([
      'node_modules/@google-cloud/compute/build/protos/protos.json',
      'node_modules/@google-cloud/compute/package.json',
    ]);
    // protos.json's place holds a few lines that read the compact description from the package's file, not 11.7 MB.
    const inputs = (JSON.parse(readFileSync('dist/bundle-meta.json', 'utf8')) as { inputs: Record<string, { bytes: number }> }).inputs;
    expect(inputs['node_modules/@google-cloud/compute/build/protos/protos.json']!.bytes).toBeLessThan(1000);
    expect(existsSync(join(pkg(), 'dist/gcp/compute-description.json'))).toBe(true);
  });
});
