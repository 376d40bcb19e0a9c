// verify --local --dry-run: what a local verification would create on this machine, and nothing created. Writes
// `plan`.
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isArchive } from '../../local/verify-local.js';
import type { LocalVerify } from '../../config/types.js';
import type { PlannedResource } from '../events.js';
import { SCRATCH, scriptInput } from './plan-local.js';
import { PLAN_STEP, recordPlan } from './plan.js';
import type { Step } from './step.js';

export const planLocalVerify: Step<LocalVerify> = {
  ...PLAN_STEP,
  uses: ['data'],
  writes: ['plan'],
  async run(ctx) {
    const file = ctx.config.file;
    const scratch = join(tmpdir(), SCRATCH);
    // Reading the file's first bytes tells an archive from a raw disk; nothing is written.
    const archive = await isArchive(file);
    const verify = { script: 'verify', metadata: scriptInput(ctx) };
    // A raw disk is used in place, read-only: only the scratch directory is created. An archive is extracted.
    const resources: PlannedResource[] = archive
      ? [
          {
            kind: 'file',
            name: scratch,
            body: { holds: "the verify script's containerd and mount point", removed: 'at the end of the run' },
          },
          {
            kind: 'file',
            name: join(scratch, 'gdib-verify-XXXXXX', 'disk.raw'),
            body: {
              source: file,
              format: 'extracted from the archive, sparse',
              attachedAs: 'read-only loop device',
              ...verify,
              removed: 'at the end of the run',
            },
          },
        ]
      : [
          {
            kind: 'file',
            name: scratch,
            body: {
              holds: "the verify script's containerd and mount point",
              disk: { source: file, format: 'raw disk, used in place and not modified', attachedAs: 'read-only loop device' },
              ...verify,
              removed: 'at the end of the run',
            },
          },
        ];
    recordPlan(ctx, resources);
  },
};
