/**
 * What the guest reports: the serial console (getSerialPortOutput) and guest attributes
 * (getGuestAttributes), in the real response shapes. Guest attributes that were never written
 * answer 404, as GCE does before the guest writes any.
 */
import { ApiError, invalid, notFound } from '../errors.js';
import type { Router } from '../router.js';
import type { Instance } from '../state.js';
import { requireZone, type ComputeDeps } from './context.js';
import { instanceLink } from './urls.js';

const V1 = '/compute/v1/projects/:project/zones/:zone/instances/:name';

export function registerGuest(router: Router, deps: ComputeDeps): void {
  const find = (project: string, zone: string, name: string): Instance => {
    requireZone(deps, project, zone);
    const instance = deps.state.instance(project, zone, name);
    if (!instance) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    return instance;
  };

  router.add('GET', `${V1}/serialPort`, 'instances.getSerialPortOutput', ({ params: { project, zone, name }, query }) => {
    const instance = find(project!, zone!, name!);
    const port = Number(query.get('port') ?? 1);
    if (!Number.isInteger(port) || port < 1 || port > 4)
      throw invalid(`Invalid value for field 'port': '${query.get('port')}'. Must be between 1 and 4.`);
    const start = Number(query.get('start') ?? 0);
    if (!Number.isInteger(start)) throw invalid(`Invalid value for field 'start': '${query.get('start')}'.`);
    const read = port === 1 ? instance.serial.read(start) : { contents: '', start: 0, next: 0 };
    return {
      json: {
        kind: 'compute#serialPortOutput',
        contents: read.contents,
        start: String(read.start),
        next: String(read.next),
        selfLink: `${instanceLink(project!, zone!, name!)}/serialPort?port=${port}`,
      },
    };
  });

  router.add('GET', `${V1}/getGuestAttributes`, 'instances.getGuestAttributes', ({ params: { project, zone, name }, query }) => {
    const instance = find(project!, zone!, name!);
    if (instance.guestAttributesError) throw ApiError.from(instance.guestAttributesError);
    const self = `${instanceLink(project!, zone!, name!)}/guestAttributes`;
    const variableKey = query.get('variableKey');
    if (variableKey) {
      const value = instance.guestAttributes.get(variableKey);
      if (value === undefined) throw notFound(`projects/${project}/zones/${zone}/instances/${name}/guestAttributes/${variableKey}`);
      return { json: { kind: 'compute#guestAttributes', selfLink: `${self}/${variableKey}`, variableKey, variableValue: value } };
    }
    const queryPath = query.get('queryPath') ?? '';
    const items = [...instance.guestAttributes.entries()]
      .filter(([key]) => key.startsWith(queryPath))
      .map(([key, value]) => {
        const slash = key.indexOf('/');
        return { namespace: key.slice(0, slash), key: key.slice(slash + 1), value };
      });
    if (items.length === 0) throw notFound(`projects/${project}/zones/${zone}/instances/${name}/guestAttributes/${queryPath}`);
    return { json: { kind: 'compute#guestAttributes', selfLink: `${self}/${queryPath}`, queryPath, queryValue: { items } } };
  });
}
