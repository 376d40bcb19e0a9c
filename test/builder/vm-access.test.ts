import { describe, expect, it } from 'vitest';
import { CLOUD_PLATFORM, STORAGE_READ_ONLY, thirdPartyTokenHosts, tokenHosts, vmAccess } from '../../src/builder/vm-access.js';
import type { VmBuild } from '../../src/config/types.js';

const GAR = 'us-docker.pkg.dev/p/r/app:1';
const build = (o: Partial<VmBuild>) =>
  ({ kind: 'vm-build', imagePullAuth: 'None', containerImages: ['nginx:1'], registrySecrets: [], dataSources: [], ...o }) as VmBuild;

describe('vmAccess', () => {
  it.each<[string, Partial<VmBuild>, readonly string[]]>([
    ['None', {}, []],
    ['Auto, no Google registry', { imagePullAuth: 'Auto' }, []],
    ['Auto, a Google registry', { imagePullAuth: 'Auto', containerImages: ['nginx:1', GAR] }, [STORAGE_READ_ONLY]],
    ['ServiceAccountToken', { imagePullAuth: 'ServiceAccountToken' }, [STORAGE_READ_ONLY]],
    [
      'a registry secret',
      { registrySecrets: [{ host: 'ghcr.io', secretVersion: 'projects/p/secrets/s/versions/latest' }] },
      [CLOUD_PLATFORM],
    ],
    ['a data disk of public models', { containerImages: [], dataSources: [{ kind: 'hf', repo: 'o/m', revision: 'main', dest: 'm' }] }, []],
    [
      'a data disk with a bucket',
      { containerImages: [], dataSources: [{ kind: 'gcs', bucket: 'b', path: 'p', prefix: true, dest: 'p' }] },
      [STORAGE_READ_ONLY],
    ],
    [
      'a data disk with a Hugging Face token',
      {
        containerImages: [],
        dataSources: [{ kind: 'gcs', bucket: 'b', path: 'p', prefix: true, dest: 'p' }],
        hfTokenSecret: 'projects/p/secrets/hf/versions/latest',
      },
      [CLOUD_PLATFORM],
    ],
  ])('%s', (_, o, scopes) => expect(vmAccess(build(o)).scopes).toEqual(scopes));

  it('verify: no service account', () => expect(vmAccess({ kind: 'vm-verify' } as never).scopes).toEqual([]));
});

describe('the hosts that receive the token', () => {
  it('ServiceAccountToken: every host but those with a secret; the third-party ones named', () => {
    const run = {
      imagePullAuth: 'ServiceAccountToken',
      containerImages: ['nginx:1', GAR, 'ghcr.io/o/a:1', 'quay.io/o/b:1'],
      registrySecrets: [{ host: 'quay.io' }],
    };
    expect(tokenHosts(run)).toEqual(['docker.io', 'us-docker.pkg.dev', 'ghcr.io']);
    expect(thirdPartyTokenHosts(run)).toEqual(['docker.io', 'ghcr.io']);
    expect(thirdPartyTokenHosts({ ...run, imagePullAuth: 'Auto' })).toEqual([]);
  });
});
