// Which image may be an incremental build's base (src/builder/base-image.ts): never a data disk.
import { describe, expect, it } from 'vitest';
import { baseImageProblem } from '../../src/builder/base-image.js';
import { dataRecordFor, describeRecord, recordFor } from '../../src/builder/image-record.js';
import type { VmBuild } from '../../src/config/types.js';
import type { ImageInfo } from '../../src/gcp/types.js';
import { dataFingerprint } from '../../src/vm/contract.js';

const config = { platform: 'linux/amd64' } as VmBuild;
const image = (description: string): ImageInfo => ({ name: 'i', status: 'READY', description });

describe('baseImageProblem', () => {
  it('takes a disk of container images of the platform, refuses a data disk saying so', () => {
    const images = recordFor(['nginx:1'], { 'nginx:1': `sha256:${'a'.repeat(64)}` }, 'linux/amd64', true);
    expect(baseImageProblem(image(describeRecord(images)), config)).toBeUndefined();
    const files = [{ source: 0, name: 'm/a', path: 'm/a', size: 1, checksum: { size: true as const }, generation: '1' }];
    const data = dataRecordFor([{ kind: 'gcs', bucket: 'b', path: 'm', prefix: true, dest: 'm' }], files, dataFingerprint(files));
    expect(baseImageProblem(image(describeRecord(data)), config)).toBe('it is a data disk (--data-source), not a disk of container images');
  });
});
