/**
 * Read-only catalog: projects, zones, machine types, disk types, networks, subnetworks.
 */
import { notFound } from '../errors.js';
import type { Router } from '../router.js';
import { requireProject, requireRegion, requireZone, type ComputeDeps } from './context.js';
import { link, regionLink, timestamp, zoneLink } from './urls.js';

const V1 = '/compute/v1/projects/:project';

export function registerCatalog(router: Router, deps: ComputeDeps): void {
  const { state } = deps;
  const created = timestamp(Date.UTC(2020, 0, 1));

  router.add('GET', V1, 'projects.get', ({ params: { project } }) => {
    requireProject(deps, project!);
    const p = state.projects.get(project!)!;
    return {
      json: {
        kind: 'compute#project',
        id: p.id,
        name: p.name,
        creationTimestamp: created,
        defaultServiceAccount: `${p.number}-compute@developer.gserviceaccount.com`,
        xpnProjectStatus: 'UNSPECIFIED_XPN_PROJECT_STATUS',
        selfLink: link(`projects/${p.name}`),
      },
    };
  });

  router.add('GET', `${V1}/zones/:zone`, 'zones.get', ({ params: { project, zone } }) => {
    const z = requireZone(deps, project!, zone!);
    return {
      json: {
        kind: 'compute#zone',
        id: String(2000 + [...state.zones.keys()].indexOf(z.name)),
        name: z.name,
        description: z.name,
        status: 'UP',
        region: regionLink(project!, z.region),
        availableCpuPlatforms: ['Intel Cascade Lake', 'Intel Ice Lake', 'AMD Milan', 'Ampere Altra'],
        creationTimestamp: created,
        selfLink: zoneLink(project!, z.name),
      },
    };
  });

  router.add('GET', `${V1}/zones/:zone/machineTypes/:name`, 'machineTypes.get', ({ params: { project, zone, name } }) => {
    requireZone(deps, project!, zone!);
    const m = state.machineTypes.get(name!);
    if (!m) throw notFound(`projects/${project}/zones/${zone}/machineTypes/${name}`);
    return {
      json: {
        kind: 'compute#machineType',
        id: String(3000 + [...state.machineTypes.keys()].indexOf(m.name)),
        name: m.name,
        description: `${m.guestCpus} vCPUs, ${m.memoryMb / 1024} GB RAM`,
        guestCpus: m.guestCpus,
        memoryMb: m.memoryMb,
        architecture: m.architecture,
        maximumPersistentDisks: 128,
        maximumPersistentDisksSizeGb: '263168',
        isSharedCpu: false,
        zone: zone!,
        creationTimestamp: created,
        selfLink: link(`projects/${project}/zones/${zone}/machineTypes/${m.name}`),
      },
    };
  });

  router.add('GET', `${V1}/zones/:zone/diskTypes/:name`, 'diskTypes.get', ({ params: { project, zone, name } }) => {
    requireZone(deps, project!, zone!);
    const d = state.diskTypes.get(name!);
    if (!d) throw notFound(`projects/${project}/zones/${zone}/diskTypes/${name}`);
    return {
      json: {
        kind: 'compute#diskType',
        id: String(4000 + [...state.diskTypes.keys()].indexOf(d.name)),
        name: d.name,
        description: d.name,
        validDiskSize: `${d.minSizeGb}GB-${d.maxSizeGb}GB`,
        defaultDiskSizeGb: String(d.defaultSizeGb),
        zone: zoneLink(project!, zone!),
        creationTimestamp: created,
        selfLink: link(`projects/${project}/zones/${zone}/diskTypes/${d.name}`),
      },
    };
  });

  router.add('GET', `${V1}/global/networks/:name`, 'networks.get', ({ params: { project, name } }) => {
    requireProject(deps, project!);
    const n = state.networks.get(`${project}/${name}`);
    if (!n) throw notFound(`projects/${project}/global/networks/${name}`);
    const subnets = [...state.subnetworks.values()].filter((s) => s.project === n.project && s.network === n.name);
    return {
      json: {
        kind: 'compute#network',
        id: n.id,
        name: n.name,
        autoCreateSubnetworks: true,
        routingConfig: { routingMode: 'REGIONAL' },
        subnetworks: subnets.map((s) => link(`projects/${s.project}/regions/${s.region}/subnetworks/${s.name}`)),
        networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL',
        creationTimestamp: created,
        selfLink: link(`projects/${n.project}/global/networks/${n.name}`),
      },
    };
  });

  router.add('GET', `${V1}/regions/:region/subnetworks/:name`, 'subnetworks.get', ({ params: { project, region, name } }) => {
    requireRegion(deps, project!, region!);
    const s = state.subnetworks.get(`${project}/${region}/${name}`);
    if (!s) throw notFound(`projects/${project}/regions/${region}/subnetworks/${name}`);
    return {
      json: {
        kind: 'compute#subnetwork',
        id: s.id,
        name: s.name,
        network: link(`projects/${s.project}/global/networks/${s.network}`),
        ipCidrRange: s.ipCidrRange,
        gatewayAddress: s.ipCidrRange.replace(/0\/\d+$/, '1'),
        region: regionLink(s.project, s.region),
        privateIpGoogleAccess: false,
        stackType: 'IPV4_ONLY',
        purpose: 'PRIVATE',
        fingerprint: 'ZW11bGF0b3I=',
        creationTimestamp: created,
        selfLink: link(`projects/${s.project}/regions/${s.region}/subnetworks/${s.name}`),
      },
    };
  });
}
