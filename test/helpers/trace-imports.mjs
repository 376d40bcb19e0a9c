// Node --import hook: prints "import: <specifier>" for every bare (package) import, so tests can see what loads.
import { register } from 'node:module';

if (process.env.GDIB_TRACE_IMPORTS) {
  register(
    'data:text/javascript,' +
      encodeURIComponent(`export async function resolve(specifier, context, next) {
  if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('file:') && !specifier.startsWith('node:') && !specifier.startsWith('data:')) process.stderr.write('import: ' + specifier + '\\n');
  return next(specifier, context);
}`),
    import.meta.url,
  );
}
