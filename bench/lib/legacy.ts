// The previous release's bash VM script (bench/legacy/build.sh with common.sh inlined, as its renderer did), run on the
// rig exactly as the agent's runs are measured: its own metadata keys served by the rig's fake metadata server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMetadataServer } from '../../test/rig/metadata-server.js';
import type { Rig } from '../../test/rig/rig.js';
import { runMeasured, type OnVmRun, type RunOptions } from './on-vm.js';

const src = (name: string) => readFileSync(new URL(`../legacy/${name}`, import.meta.url), 'utf8');

/** build.sh as one self-contained script. */
export function legacyScript(): string {
  const common = src('common.sh').replace('__GDIB_VERSION__', 'legacy');
  return src('build.sh').replace(/^source .*# @inline common\.sh$/m, () => common);
}

export async function runLegacy(rig: Rig, label: string, images: string[], opts: RunOptions): Promise<OnVmRun> {
  const metadata = await startMetadataServer({
    attributes: {
      'gdib-mode': 'build',
      'gdib-run-id': 'bench1',
      'gdib-container-images': images.join('\n'),
      'gdib-image-pull-auth': 'None',
      'gdib-store-checksums': 'true',
      'gdib-platform': 'linux/amd64',
    },
  });
  try {
    return await runMeasured(rig, label, legacyScript(), [], opts, (disk, runDir, work) => ({
      GCE_METADATA_HOST: metadata.host,
      GDIB_DEVICE: disk.device,
      GDIB_MOUNT_DIR: join(runDir, 'mnt'),
      GDIB_WORK_DIR: work,
      GDIB_HOSTS_DIR: rig.hostsDir,
    }));
  } finally {
    await metadata.close();
  }
}
