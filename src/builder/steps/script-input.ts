// What the startup script is given (its metadata) for each kind of run that runs it, on a VM or on this machine.
import type { BakeRun, LocalVerify, VmRun } from '../../config/types.js';
import { renderMetadata, type MetadataItem } from '../../startup-script/render.js';
import { MD, type DataPlan } from '../../vm/contract.js';

/**
 * `ids`: the run's id, and its status nonce (docs/architecture.md, VM status). `dataDisk`: `from-image` when a build's
 * data disk was created from its base image (--incremental, --base-image). No item has an empty value: compute
 * requires a value, and an absent key is the script's default.
 */
export function scriptMetadata(
  run: VmRun | BakeRun | LocalVerify,
  ids: { runId: string; statusNonce?: string },
  dataDisk: 'blank' | 'from-image' = 'blank',
  data?: DataPlan,
): MetadataItem[] {
  const items = [
    ...renderFor(run, ids.runId, dataDisk, data),
    ...(ids.statusNonce ? [{ key: MD.statusNonce, value: ids.statusNonce }] : []),
  ];
  return items.filter((i) => i.value !== '');
}

/**
 * `data`: a data disk's plan as preflight resolved it (docs/architecture.md, Data disks): sent instead of the
 * container images, with the Hugging Face token's secret name.
 */
function renderFor(run: VmRun | BakeRun | LocalVerify, runId: string, dataDisk: 'blank' | 'from-image', data?: DataPlan): MetadataItem[] {
  switch (run.kind) {
    case 'vm-build':
    case 'local-build':
    case 'local-archive':
      if (run.dataSources.length > 0) {
        if (!data) throw new Error('a data disk needs its sources listed (preflight) before the VM is given them');
        return renderMetadata({
          mode: 'build',
          runId,
          containerImages: [],
          imagePullAuth: 'None',
          storeChecksums: false,
          platform: run.platform,
          dataPlan: data,
          ...(run.hfTokenSecret ? { hfTokenSecret: run.hfTokenSecret } : {}),
        });
      }
      return renderMetadata({
        mode: 'build',
        runId,
        containerImages: run.containerImages,
        imagePullAuth: run.imagePullAuth,
        registrySecrets: run.registrySecrets,
        storeChecksums: run.storeSnapshotChecksum,
        platform: run.platform,
        pullStallTimeoutS: Math.round(run.pullStallTimeoutMs / 1000),
        ...(dataDisk === 'from-image' ? { dataDisk } : {}),
      });
    case 'vm-verify':
      return renderMetadata({
        mode: 'verify',
        runId,
        containerImages: [],
        imagePullAuth: run.imagePullAuth,
        storeChecksums: run.storeSnapshotChecksum,
        platform: run.platform,
      });
    case 'local-verify':
      // The verify script checks the disk against its own record; it pulls nothing, so no pull settings apply.
      return renderMetadata({
        mode: 'verify',
        runId,
        containerImages: [],
        imagePullAuth: 'None',
        storeChecksums: true,
        platform: 'linux/amd64',
      });
  }
}
