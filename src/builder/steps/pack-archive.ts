// --local: the baked disk packed as a GCE-importable archive (disk.raw in a .tar.gz; docs/architecture.md, Workflow).
// Reads `localDisk`, writes `archive`.
import { dirname, join } from 'node:path';
import type { BakeRun } from '../../config/types.js';
import { packDiskArchive } from '../../local/archive.js';
import type { Step } from './step.js';

export const packArchive: Step<BakeRun> = {
  name: 'pack-archive',
  title: 'Packing the disk as a GCE image archive (disk.raw in a .tar.gz)',
  reads: ['localDisk'],
  writes: ['archive'],
  async run(ctx, signal) {
    const out = ctx.config.archivePath ?? join(dirname(ctx.state.localDisk!), 'disk.tar.gz');
    let last = 0;
    const packed = await packDiskArchive(ctx.state.localDisk!, out, {
      signal,
      onProgress: (bytes) => {
        if (bytes - last >= 64 << 20) ctx.emit({ type: 'vm-progress', progress: `packed ${(bytes / 1e6).toFixed(0)} MB` });
        last = bytes;
      },
    });
    ctx.state.archive = packed.path;
    if (ctx.config.archivePath) ctx.emit({ type: 'resource-created', kind: 'file', name: packed.path });
  },
};
