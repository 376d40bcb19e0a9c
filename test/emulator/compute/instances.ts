/**
 * Zonal instances: insert, get, delete, list, aggregated list, detachDisk.
 * An instance appears RUNNING when its insert operation is DONE, and its VM behaviour starts
 * (vm.ts). Deleting it stops the VM at once (status STOPPING) and, at DONE, deletes its
 * auto-delete disks and detaches the others.
 */
import { createHash } from 'node:crypto';
import { alreadyExists, invalid, notFound } from '../errors.js';
import type { Router } from '../router.js';
import type { Instance } from '../state.js';
import { aggregatedBody, listBody, requireZone, type ComputeDeps } from './context.js';
import { planInsert } from './instance-insert.js';
import { diskLink, instanceLink, machineTypeLink, timestamp, zoneLink } from './urls.js';

const V1 = '/compute/v1/projects/:project';

const fingerprint = (value: unknown): string => createHash('md5').update(JSON.stringify(value)).digest('base64').slice(0, 12);

export function instanceJson(deps: ComputeDeps, i: Instance): Record<string, unknown> {
  const project = deps.state.projects.get(i.project);
  const spec = i.spec;
  const serviceAccounts = ((spec['serviceAccounts'] ?? []) as Array<Record<string, unknown>>).map((sa) => ({
    ...sa,
    email:
      sa['email'] === 'default' || sa['email'] === undefined
        ? `${project?.number ?? '0'}-compute@developer.gserviceaccount.com`
        : sa['email'],
  }));
  const tags = (spec['tags'] ?? {}) as Record<string, unknown>;
  return {
    kind: 'compute#instance',
    id: i.id,
    name: i.name,
    creationTimestamp: timestamp(i.createdAt),
    zone: zoneLink(i.project, i.zone),
    machineType: machineTypeLink(i.project, i.zone, i.machineType),
    status: i.status,
    cpuPlatform: 'Intel Cascade Lake',
    canIpForward: false,
    deletionProtection: false,
    startRestricted: false,
    disks: i.disks.map((d) => {
      const disk = deps.state.disk(i.project, i.zone, d.diskName);
      return {
        kind: 'compute#attachedDisk',
        type: 'PERSISTENT',
        mode: d.mode,
        source: diskLink(i.project, i.zone, d.diskName),
        deviceName: d.deviceName,
        index: d.index,
        boot: d.boot,
        autoDelete: d.autoDelete,
        interface: 'SCSI',
        ...(disk ? { diskSizeGb: String(disk.sizeGb) } : {}),
        ...(disk?.architecture ? { architecture: disk.architecture } : {}),
      };
    }),
    networkInterfaces: spec['networkInterfaces'],
    serviceAccounts,
    metadata: { kind: 'compute#metadata', fingerprint: fingerprint(i.metadataItems), items: i.metadataItems },
    labels: i.labels,
    labelFingerprint: fingerprint(i.labels),
    scheduling: {
      onHostMaintenance: 'MIGRATE',
      automaticRestart: true,
      preemptible: false,
      provisioningModel: 'STANDARD',
      ...(spec['scheduling'] as object),
    },
    shieldedInstanceConfig: {
      enableSecureBoot: false,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
      ...(spec['shieldedInstanceConfig'] as object),
    },
    tags: { ...tags, fingerprint: fingerprint(tags) },
    fingerprint: fingerprint(i.id),
    lastStartTimestamp: timestamp(i.createdAt),
    selfLink: instanceLink(i.project, i.zone, i.name),
  };
}

/** The instance goes: its VM stops, its auto-delete disks are deleted and the others detached. */
function removeInstance(deps: ComputeDeps, instance: Instance): void {
  const { state, vm } = deps;
  const { project, zone, name } = instance;
  instance.vm.abort();
  instance.status = 'TERMINATED';
  const now = deps.now();
  for (const a of instance.disks) {
    const disk = state.disk(project, zone, a.diskName);
    if (!disk) continue;
    disk.users = disk.users.filter((u) => u !== name);
    if (a.autoDelete) {
      state.disks.delete(`${project}/${zone}/${a.diskName}`);
      state.closeRecord('disk', project, a.diskName, zone, now);
      vm.releaseContent(disk.content, { kind: 'disk', project, zone, name: a.diskName });
    }
  }
  state.instances.delete(`${project}/${zone}/${name}`);
  state.closeRecord('instance', project, name, zone, now);
}

/**
 * GCE preempts a Spot (or preemptible) VM (SPEC.md, Preemption): a `compute.instances.preempted` zone operation,
 * DONE, is recorded on it; the VM stops at once; then, by `scheduling.instanceTerminationAction`, the instance is
 * TERMINATED with its disks still attached (STOP, the default) or deleted as by instances.delete (DELETE).
 */
export function preemptInstance(deps: ComputeDeps, instance: Instance): void {
  const scheduling = (instance.spec['scheduling'] ?? {}) as Record<string, unknown>;
  if (scheduling['provisioningModel'] !== 'SPOT' && scheduling['preemptible'] !== true)
    throw new Error(`instance ${instance.name} is neither a Spot nor a preemptible VM: GCE never preempts it`);
  if (instance.status !== 'RUNNING') throw new Error(`instance ${instance.name} is ${instance.status}, not RUNNING`);
  const { project, zone, name } = instance;
  const op = deps.ops.start({
    project,
    zone,
    operationType: 'compute.instances.preempted',
    targetLink: instanceLink(project, zone, name),
    targetId: instance.id,
    apply: () => {
      if (scheduling['instanceTerminationAction'] === 'DELETE') removeInstance(deps, instance);
      else {
        instance.vm.abort();
        instance.status = 'TERMINATED';
      }
    },
  });
  deps.ops.finish(op);
}

export function registerInstances(router: Router, deps: ComputeDeps): void {
  const { state, ops, vm } = deps;
  vm.onPreempt((instance) => preemptInstance(deps, instance));
  const find = (project: string, zone: string, name: string): Instance => {
    requireZone(deps, project, zone);
    const instance = state.instance(project, zone, name);
    if (!instance) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
    return instance;
  };

  router.add('POST', `${V1}/zones/:zone/instances`, 'instances.insert', ({ params, body, fault }) => {
    const project = params['project']!;
    const zone = params['zone']!;
    const create = planInsert(deps, project, zone, (body ?? {}) as Record<string, unknown>);
    const name = String((body as Record<string, unknown>)['name']);
    const target = instanceLink(project, zone, name);
    if (state.instance(project, zone, name) || ops.insertInFlight(target))
      throw alreadyExists(`projects/${project}/zones/${zone}/instances/${name}`);
    const op = ops.start({
      project,
      zone,
      operationType: 'insert',
      targetLink: target,
      ...(fault ? { fault } : {}),
      apply: () => vm.start(create()),
    });
    return { json: ops.toJSON(op) };
  });

  router.add('GET', `${V1}/zones/:zone/instances/:name`, 'instances.get', ({ params: { project, zone, name } }) => ({
    json: instanceJson(deps, find(project!, zone!, name!)),
  }));

  router.add('DELETE', `${V1}/zones/:zone/instances/:name`, 'instances.delete', ({ params, fault }) => {
    const project = params['project']!;
    const zone = params['zone']!;
    const name = params['name']!;
    const instance = find(project, zone, name);
    const op = ops.start({
      project,
      zone,
      operationType: 'delete',
      targetLink: instanceLink(project, zone, name),
      targetId: instance.id,
      ...(fault ? { fault } : {}),
      apply: () => {
        const current = state.instance(project, zone, name);
        if (!current) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
        removeInstance(deps, current);
      },
    });
    if (!op.forcedError) {
      instance.vm.abort();
      instance.status = 'STOPPING';
    }
    return { json: ops.toJSON(op) };
  });

  router.add('POST', `${V1}/zones/:zone/instances/:name/detachDisk`, 'instances.detachDisk', ({ params, query, fault }) => {
    const project = params['project']!;
    const zone = params['zone']!;
    const name = params['name']!;
    const instance = find(project, zone, name);
    const deviceName = query.get('deviceName') ?? '';
    const attached = instance.disks.find((d) => d.deviceName === deviceName);
    if (!attached) throw invalid(`Invalid value for field 'deviceName': '${deviceName}'. No attached disk found with this device name.`);
    if (attached.boot && instance.status === 'RUNNING')
      throw invalid(`Invalid value for field 'deviceName': '${deviceName}'. The boot disk cannot be detached from a running instance.`);
    const op = ops.start({
      project,
      zone,
      operationType: 'detachDisk',
      targetLink: instanceLink(project, zone, name),
      targetId: instance.id,
      ...(fault ? { fault } : {}),
      apply: () => {
        const current = state.instance(project, zone, name);
        if (!current) throw notFound(`projects/${project}/zones/${zone}/instances/${name}`);
        const a = current.disks.find((d) => d.deviceName === deviceName);
        if (!a) throw invalid(`Invalid value for field 'deviceName': '${deviceName}'. No attached disk found with this device name.`);
        current.disks = current.disks.filter((d) => d !== a);
        const disk = state.disk(project, zone, a.diskName);
        if (disk) disk.users = disk.users.filter((u) => u !== name);
      },
    });
    return { json: ops.toJSON(op) };
  });

  router.add('GET', `${V1}/zones/:zone/instances`, 'instances.list', ({ params: { project, zone }, query }) => {
    requireZone(deps, project!, zone!);
    const mine = [...state.instances.values()].filter((i) => i.project === project && i.zone === zone).map((i) => instanceJson(deps, i));
    return { json: listBody('instance', `projects/${project}/zones/${zone}/instances`, mine, query) };
  });

  router.add('GET', `${V1}/aggregated/instances`, 'instances.aggregatedList', ({ params: { project }, query }) => {
    const p = project!;
    if (!state.projects.has(p)) throw notFound(`projects/${p}`);
    const byZone = (zone: string): Record<string, unknown>[] =>
      [...state.instances.values()].filter((i) => i.project === p && i.zone === zone).map((i) => instanceJson(deps, i));
    return { json: aggregatedBody(deps, 'instance', 'instances', p, byZone, query) };
  });
}
