// Node --import hook: prints "import: <specifier>" for every bare (package) import, so tests can see what loads;
// with GDIB_TRACE_IMPORTS=files, also "file: <url>" for every module file loaded through an import (the bundled
// package has no package imports left: its tests map the files to the modules bundled in them).
import { register } from 'node:module';

if (process.env.GDIB_TRACE_IMPORTS) {
  const files = process.env.GDIB_TRACE_IMPORTS === 'files';
  register(
    'data:text/javascript,' +
      encodeURIComponent(`export async function resolve(specifier, context, next) {
  if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('file:') && !specifier.startsWith('node:') && !specifier.startsWith('data:')) process.stderr.write('import: ' + specifier + '\\n');
  const resolved = await next(specifier, context);
  if (${files} && resolved.url.startsWith('file:')) process.stderr.write('file: ' + resolved.url + '\\n');
  return resolved;
}`),
    import.meta.url,
  );
}
