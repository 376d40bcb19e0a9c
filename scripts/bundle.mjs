// Makes the npm package in pkg/: the compiled CLI (dist/) bundled with its dependencies by esbuild, so that
// installing it fetches this one package (docs/architecture.md, The npm package). Run by `npm run build` after
// the compiled modules and their assets are in dist/.
//
// pkg/ holds bin/ (the same shim as the checkout's), dist/ (the entry cli.js and its chunks, side by side, plus
// every asset of dist/ at its own path: the VM scripts and agent, the compact compute API description, the build
// record), package.json (no dependencies), README.md, LICENSE and THIRD_PARTY_NOTICES.md. dist/bundle-meta.json
// (not packed) maps each output file to the modules in it, for the tests.
//
// What would break in a bundle, and how it is kept working:
// - Every module of ours reads its assets relative to `import.meta.url` (dist/startup-script/render.js reads
//   build.sh beside it). In the bundle each module's `import.meta.url` is rewritten to the URL it has in dist/'s
//   layout, which pkg/dist/ keeps, so the same relative paths find the same assets.
// - Each compute client module requires the whole API description (protos.json, 11.7 MB). The bundle's protos.json
//   is the compact description instead, read from dist/gcp/compute-description.json when the first compute client
//   loads (src/gcp/compute-description.ts); the build fails if that was cut from another version of the package.
// - @google-cloud/storage needs the auth clients of its own google-auth-library: src/gcp/storage-auth-library.ts
//   is replaced by an import resolved from the storage package's directory.
// - Dependencies written as CommonJS call `require` and read `__dirname`/`__filename`: each output file starts by
//   defining them for its own location.
// - Lazy loading: every `import()` of the compiled code becomes a chunk of its own, loaded only when that import
//   runs, so --help and validation still load no Google library (test/cli/lazy-load.test.ts, on the package).
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const ROOT = resolve('.');
const DIST = join(ROOT, 'dist');
const OUT = join(ROOT, 'pkg');
const require = createRequire(join(ROOT, 'package.json'));

/** The files of a directory, recursively, relative to it. */
function filesOf(dir, base = dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesOf(path, base) : [relative(base, path)];
  });
}

/**
 * A module tsc wrote (or its map): every .js and .js.map of dist/ — compiled from src/, or left by an earlier build
 * of a module since moved. Everything else in dist/ (.sh, .json, the VM agent's .mjs bundle) is an asset.
 */
function isCompiled(rel) {
  return /\.js(\.map)?$/.test(rel);
}

const compact = JSON.parse(readFileSync(join(DIST, 'gcp/compute-description.json'), 'utf8'));
const computeVersion = require('@google-cloud/compute/package.json').version;
if (compact.computeVersion !== computeVersion)
  throw new Error(
    `dist/gcp/compute-description.json was cut from @google-cloud/compute ${compact.computeVersion}, the bundle has ${computeVersion}`,
  );

const protosJson = require.resolve('@google-cloud/compute/build/protos/protos.json');
const storageAuthModule = join(DIST, 'gcp/storage-auth-library.js');
const storageDir = dirname(require.resolve('@google-cloud/storage'));

/** Whether a resolved file is a CommonJS module (by its extension, or its package's type). */
function isCommonJs(file) {
  if (file.endsWith('.cjs')) return true;
  if (file.endsWith('.mjs')) return false;
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).type !== 'module';
  }
  return true;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * A dependency written as CommonJS and loaded by our `import()` becomes a chunk whose only export is `default`
 * (esbuild's code splitting does not give it named exports), where Node gives the named exports too
 * (`const { parse } = await import('yaml')`). Such an import is pointed at an ES module in front of it that
 * exports each of the module's exports by name, as Node would.
 */
const commonJsFacades = {
  name: 'commonjs-facades',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.kind !== 'dynamic-import' || !args.importer.startsWith(DIST + sep) || args.pluginData?.facade) return undefined;
      const target = await b.resolve(args.path, { kind: 'dynamic-import', resolveDir: args.resolveDir, pluginData: { facade: true } });
      if (target.errors.length > 0 || !isCommonJs(target.path)) return undefined;
      return { path: target.path, namespace: 'commonjs-facade' };
    });
    b.onLoad({ filter: /.*/, namespace: 'commonjs-facade' }, (args) => {
      const names = Object.keys(createRequire(args.path)(args.path)).filter(
        (n) => IDENTIFIER.test(n) && n !== 'default' && n !== '__esModule',
      );
      const spec = JSON.stringify(args.path);
      return {
        // module.exports itself, as Node's default export of a CommonJS module (not its `default`, even when it
        // says __esModule).
        contents: `const m = require(${spec});\nexport default m;\nexport const { ${names.join(', ')} } = m;\n`,
        resolveDir: dirname(args.path),
        loader: 'js',
      };
    });
  },
};

const layout = {
  name: 'dist-layout',
  setup(b) {
    // Our modules: import.meta.url as in dist/ (the output files all sit in pkg/dist/, as dist/'s root).
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(DIST + sep)) return undefined;
      const rel = relative(DIST, args.path).split(sep).join('/');
      const text = readFileSync(args.path, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, '');
      if (args.path === storageAuthModule) return undefined;
      return {
        contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(`./${rel}`)}, import.meta.url).href`),
        loader: 'js',
      };
    });
    b.onLoad({ filter: /storage-auth-library\.js$/ }, (args) => {
      if (args.path !== storageAuthModule) return undefined;
      return {
        contents: "export function storageAuthLibrary() { return import('google-auth-library').then((m) => m.default ?? m); }\n",
        resolveDir: storageDir,
        loader: 'js',
      };
    });
    b.onLoad({ filter: /protos\.json$/ }, (args) => {
      if (args.path !== protosJson) return undefined;
      return {
        contents:
          // CommonJS, as protos.json is to its requirers; __dirname is the output files' directory (the banner's).
          "const { readFileSync } = require('node:fs');\n" +
          "module.exports = JSON.parse(readFileSync(require('node:path').join(__dirname, 'gcp/compute-description.json'), 'utf8')).description;\n",
        loader: 'js',
      };
    });
  },
};

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: { cli: join(DIST, 'cli.js') },
  outdir: join(OUT, 'dist'),
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  // Node 20's JavaScript: supported are 22 and 24 (engines), but the machines CI runs on have Node 20 and run it.
  target: 'node20',
  chunkNames: '[name]-[hash]',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  define: { GDIB_BUNDLED: 'true' },
  banner: {
    js: [
      "import { createRequire as __gdibCreateRequire } from 'node:module';",
      "import { fileURLToPath as __gdibFileURLToPath } from 'node:url';",
      'const require = __gdibCreateRequire(import.meta.url);',
      'const __filename = __gdibFileURLToPath(import.meta.url);',
      "const __dirname = __gdibFileURLToPath(new URL('.', import.meta.url));",
    ].join('\n'),
  },
  plugins: [commonJsFacades, layout],
});

// The assets, at their paths in dist/.
for (const rel of filesOf(DIST)) {
  if (isCompiled(rel) || rel.endsWith('.d.ts') || rel === 'bundle-meta.json') continue;
  mkdirSync(dirname(join(OUT, 'dist', rel)), { recursive: true });
  cpSync(join(DIST, rel), join(OUT, 'dist', rel));
}
cpSync(join(ROOT, 'bin'), join(OUT, 'bin'), { recursive: true });
for (const file of ['README.md', 'LICENSE']) cpSync(join(ROOT, file), join(OUT, file));

// package.json: what npm needs to run it, and nothing to install.
const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const pkg = {};
for (const key of ['name', 'version', 'description', 'keywords', 'homepage', 'bugs', 'repository', 'license', 'type', 'bin', 'engines'])
  if (root[key] !== undefined) pkg[key] = root[key];
pkg.files = ['bin/', 'dist/', 'THIRD_PARTY_NOTICES.md'];
writeFileSync(join(OUT, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);

// The licences of what was bundled (their notices must travel with their code).
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.includes(':') ? null : /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (!m) continue;
  const dir = join(ROOT, input.slice(0, m.index + m[0].length));
  if (packages.has(dir)) continue;
  const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const licence = readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f));
  packages.set(dir, {
    name: meta.name,
    version: meta.version,
    license: meta.license,
    text: licence ? readFileSync(join(dir, licence), 'utf8').trim() : '',
  });
}
const notices = [...packages.values()]
  .sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name)))
  .map((p) => `## ${p.name} ${p.version}\n\nLicence: ${p.license ?? 'unstated'}\n\n${p.text ? `\`\`\`text\n${p.text}\n\`\`\`\n` : ''}`);
writeFileSync(
  join(OUT, 'THIRD_PARTY_NOTICES.md'),
  `# Third-party notices\n\nThe files of dist/ bundle the following packages, each under its own licence.\n\n${notices.join('\n')}`,
);

writeFileSync(join(DIST, 'bundle-meta.json'), JSON.stringify(result.metafile));
const outputs = Object.keys(result.metafile.outputs);
const bytes = outputs.reduce((n, o) => n + result.metafile.outputs[o].bytes, 0);
console.log(`bundle: ${outputs.length} files, ${(bytes / 1e6).toFixed(1)} MB, ${packages.size} packages inside (pkg/)`);
