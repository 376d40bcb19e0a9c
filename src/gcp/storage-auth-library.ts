// @google-cloud/storage v7 depends on its own copy of google-auth-library (v9) and ignores auth clients made by
// another copy (docs/architecture.md, Client library facts): this loads that copy, the one beside the storage
// package. The bundle (scripts/bundle.mjs) replaces this module with an import resolved from the storage package's
// directory, which finds the same copy.
import { createRequire } from 'node:module';

export function storageAuthLibrary(): Promise<{ OAuth2Client: new () => unknown }> {
  const storageRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/storage'));
  return Promise.resolve(storageRequire('google-auth-library') as { OAuth2Client: new () => unknown });
}
