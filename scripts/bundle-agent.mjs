// Bundles the VM agent (src/vm/agent/main.ts) into one ES module, dist/vm/agent.mjs, that the VM's own Node runs
// (docs/vm-script.md, Node on the VM, and the bundle): delivered inline in instance metadata gdib-agent, so it must stay well under GCE's
// 256 KB per value (test/startup-script/render.test.ts checks it).
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
await build({
  entryPoints: ['src/vm/agent/main.ts'],
  outfile: 'dist/vm/agent.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  // Debian 12's nodejs package (docs/vm-script.md, Node on the VM).
  target: 'node18',
  minify: true,
  legalComments: 'none',
  define: { __GDIB_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});
