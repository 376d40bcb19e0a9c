// Preflight on the fake cloud: checks that fail for one cause are one problem naming them, and credentials that
// give no token stop the run before any check.
import { describe, expect, it } from 'vitest';
import { buildFlags, parseConfig } from '../helpers/plan.js';
import { BuildError } from '../../src/errors.js';
import { ApiError } from '../../src/gcp/errors.js';
import { FakeCloud, runOnFakeCloud } from '../helpers/fake-cloud.js';

async function preflight(cloud: FakeCloud, extra: Record<string, string> = {}) {
  const { error } = await runOnFakeCloud(cloud, parseConfig(buildFlags(extra), {}).plan);
  expect(error).toBeInstanceOf(BuildError);
  return error!.message;
}

describe('preflight problems with one cause', () => {
  it('are one problem that names every check they blocked, in the order of the checks', async () => {
    const cloud = new FakeCloud();
    const unreachable = (call: string) => () =>
      new ApiError({ code: 'ENOTFOUND', host: 'compute.googleapis.com', message: 'getaddrinfo ENOTFOUND compute.googleapis.com' }, call);
    for (const call of ['zones.get', 'projects.get', 'networks.get']) cloud.failures.set(call, unreachable(call));
    cloud.failures.set('diskTypes.get', () => new ApiError({ status: 400, reason: 'invalid', message: 'bad disk type' }, 'diskTypes.get'));
    const message = await preflight(cloud);
    expect(message.split('\n').slice(1)).toEqual([
      '  - preflight could not check project test-project (--project-name), zone us-central1-a (--zone) and network default (--network): cannot reach compute.googleapis.com: check the network or proxy',
      '  - preflight could not check disk type pd-ssd (--disk-type): diskTypes.get: HTTP 400 invalid: bad disk type',
    ]);
  });

  it('credentials that give no token are one problem, and no check runs', async () => {
    const cloud = Object.assign(new FakeCloud(), {
      accessToken: (): Promise<string> =>
        Promise.reject(
          new ApiError({ message: 'the key file key.json was refused by https://oauth2.example/token (invalid_grant)' }, 'oauth2.token'),
        ),
    });
    const message = await preflight(cloud);
    expect(message).toBe(
      'could not get an access token: the key file key.json was refused by https://oauth2.example/token (invalid_grant)',
    );
    expect(cloud.calls.filter((c) => !c.startsWith('storage'))).toEqual([]);
  });
});

describe('preflight on the fake IAM', () => {
  it('names a service account that does not exist', async () => {
    const cloud = new FakeCloud();
    cloud.missingServiceAccounts.add('ghost@test-project.iam.gserviceaccount.com');
    const message = await preflight(cloud, { 'service-account': 'ghost@test-project.iam.gserviceaccount.com' });
    expect(message).toBe('service account ghost@test-project.iam.gserviceaccount.com does not exist (--service-account)');
  });
});
