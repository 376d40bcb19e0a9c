// --local: the archive uploaded next to the run's logs, for the image import (docs/architecture.md, Workflow).
// Reads `archive`, writes `archiveUrl`; the object is deleted by cleanup unless --keep-archive.
import type { LocalBuild } from '../../config/types.js';
import { shellCommand } from '../../io/shell-quote.js';
import { archiveObject } from '../local-run.js';
import type { Step } from './step.js';

export const uploadArchive: Step<LocalBuild> = {
  name: 'upload-archive',
  title: 'Uploading the archive to GCS',
  reads: ['archive'],
  writes: ['archiveUrl'],
  async run(ctx, signal) {
    const { config } = ctx;
    const { object, gsUri, url } = archiveObject(ctx);
    if (!config.keepArchive) {
      ctx.cleanup.register({
        kind: 'object',
        name: gsUri,
        command: shellCommand('gcloud', 'storage', 'rm', gsUri),
        remove: (s) => ctx.cloud.storage.deleteObject(config.gcsBucket, object, s),
      });
    }
    let last = 0;
    await ctx.cloud.storage.uploadFile(
      config.gcsBucket,
      object,
      ctx.state.archive!,
      (bytes) => {
        if (bytes - last >= 64 << 20) ctx.emit({ type: 'vm-progress', progress: `uploaded ${(bytes / 1e6).toFixed(0)} MB` });
        last = bytes;
      },
      signal,
    );
    ctx.state.archiveUrl = url;
    ctx.emit({ type: 'resource-created', kind: 'object', name: gsUri });
  },
};
