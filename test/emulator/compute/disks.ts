/**
 * Zonal persistent disks: insert (blank or from an image), get, delete, list, aggregated list.
 */
import { alreadyExists, inUse, invalid, notFound } from '../errors.js';
import type { Router } from '../router.js';
import type { Disk, DiskType } from '../state.js';
import { aggregatedBody, listBody, requireZone, type ComputeDeps } from './context.js';
import { imageJson, resolveImage } from './images.js';
import { keyVersionJson, usableKey } from '../kms.js';
import { checkLabels, checkName, diskLink, diskTypeLink, expectRef, instanceLink, timestamp, zoneLink } from './urls.js';

const V1 = '/compute/v1/projects/:project';

export function diskJson(d: Disk): Record<string, unknown> {
  return {
    kind: 'compute#disk',
    id: d.id,
    name: d.name,
    // A test gives a disk no readable creation time with a createdAt of NaN (emulator choice: GCE always sets it).
    ...(Number.isFinite(d.createdAt) ? { creationTimestamp: timestamp(d.createdAt) } : {}),
    sizeGb: String(d.sizeGb),
    zone: zoneLink(d.project, d.zone),
    status: d.status,
    type: diskTypeLink(d.project, d.zone, d.type),
    labels: d.labels,
    labelFingerprint: 'bGFiZWxz',
    ...(d.sourceImage ? { sourceImage: d.sourceImage, sourceImageId: d.sourceImageId } : {}),
    ...(d.users.length > 0 ? { users: d.users.map((u) => instanceLink(d.project, d.zone, u)) } : {}),
    ...(d.lastAttachAt !== undefined ? { lastAttachTimestamp: timestamp(d.lastAttachAt) } : {}),
    ...(d.architecture ? { architecture: d.architecture } : {}),
    ...(d.kmsKeyName ? { diskEncryptionKey: keyVersionJson(d.kmsKeyName) } : {}),
    physicalBlockSizeBytes: '4096',
    selfLink: diskLink(d.project, d.zone, d.name),
  };
}

/** Check a size against a disk type (and an image's size); answers the size to use: by default the image's, else the type's. */
export function checkSize(raw: unknown, type: DiskType, imageSizeGb: number | undefined, field: string): number {
  if (raw === undefined || raw === null || raw === '') return imageSizeGb ?? type.defaultSizeGb;
  const size = Number(raw);
  if (!Number.isInteger(size) || size <= 0) throw invalid(`Invalid value for field '${field}': '${String(raw)}'.`);
  if (imageSizeGb !== undefined && size < imageSizeGb) {
    throw invalid(
      `Invalid value for field '${field}': '${size}'. Requested disk size cannot be smaller than the image size (${imageSizeGb} GB)`,
    );
  }
  if (size < type.minSizeGb || size > type.maxSizeGb) {
    throw invalid(
      `Invalid value for field '${field}': '${size}'. Disk size must be between ${type.minSizeGb} GB and ${type.maxSizeGb} GB for ${type.name}.`,
    );
  }
  return size;
}

export function requireDiskType(deps: ComputeDeps, raw: unknown, project: string, zone: string, field: string): DiskType {
  const ref = expectRef(raw, project, field, 'diskTypes', zone);
  const type = deps.state.diskTypes.get(ref.name);
  if (!type) throw notFound(`projects/${project}/zones/${zone}/diskTypes/${ref.name}`);
  return type;
}

export function registerDisks(router: Router, deps: ComputeDeps): void {
  const { state, ops } = deps;

  router.add('POST', `${V1}/zones/:zone/disks`, 'disks.insert', ({ params, query, body, fault }) => {
    const project = params['project']!;
    const zone = params['zone']!;
    requireZone(deps, project, zone);
    const b = (body ?? {}) as Record<string, unknown>;
    const name = checkName(b['name']);
    const labels = checkLabels(b['labels']);
    const type = requireDiskType(deps, b['type'] ?? `zones/${zone}/diskTypes/pd-standard`, project, zone, 'resource.type');
    const imageRef = b['sourceImage'] ?? query.get('sourceImage') ?? undefined;
    const image = imageRef === undefined ? undefined : resolveImage(deps, expectRef(imageRef, project, 'resource.sourceImage', 'images'));
    const sizeGb = checkSize(b['sizeGb'], type, image?.diskSizeGb, 'resource.sizeGb');
    const kmsKeyName = usableKey(state, b['diskEncryptionKey'], 'resource.diskEncryptionKey');
    const target = diskLink(project, zone, name);
    if (state.disk(project, zone, name) || ops.insertInFlight(target))
      throw alreadyExists(`projects/${project}/zones/${zone}/disks/${name}`);

    const op = ops.start({
      project,
      zone,
      operationType: 'insert',
      targetLink: target,
      ...(fault ? { fault } : {}),
      apply: () => {
        const disk: Disk = {
          project,
          zone,
          name,
          sizeGb,
          type: type.name,
          labels,
          users: [],
          status: 'READY',
          id: state.newId(),
          createdAt: deps.now(),
          seeded: false,
          ...(image ? { sourceImage: String(imageJson(image)['selfLink']), sourceImageId: image.id } : {}),
          ...(image?.content !== undefined
            ? {
                content: deps.vm.copyContent(
                  image.content,
                  { kind: 'disk', project, zone, name },
                  { kind: 'image', project: image.project, name: image.name },
                ),
              }
            : {}),
          ...(image?.architecture ? { architecture: image.architecture } : {}),
          ...(kmsKeyName ? { kmsKeyName } : {}),
        };
        state.disks.set(`${project}/${zone}/${name}`, disk);
        state.record({ kind: 'disk', project, zone, name, sizeGb, createdAt: disk.createdAt });
      },
    });
    return { json: ops.toJSON(op) };
  });

  router.add('GET', `${V1}/zones/:zone/disks/:name`, 'disks.get', ({ params: { project, zone, name } }) => {
    requireZone(deps, project!, zone!);
    const disk = state.disk(project!, zone!, name!);
    if (!disk) throw notFound(`projects/${project}/zones/${zone}/disks/${name}`);
    return { json: diskJson(disk) };
  });

  router.add('DELETE', `${V1}/zones/:zone/disks/:name`, 'disks.delete', ({ params, fault }) => {
    const project = params['project']!;
    const zone = params['zone']!;
    const name = params['name']!;
    requireZone(deps, project, zone);
    const disk = state.disk(project, zone, name);
    if (!disk) throw notFound(`projects/${project}/zones/${zone}/disks/${name}`);
    const path = `projects/${project}/zones/${zone}/disks/${name}`;
    if (disk.users[0]) throw inUse(`disk resource '${path}'`, `projects/${project}/zones/${zone}/instances/${disk.users[0]}`);
    const op = ops.start({
      project,
      zone,
      operationType: 'delete',
      targetLink: diskLink(project, zone, name),
      targetId: disk.id,
      ...(fault ? { fault } : {}),
      apply: () => {
        const current = state.disk(project, zone, name);
        if (!current) throw notFound(path);
        if (current.users[0]) throw inUse(`disk resource '${path}'`, `projects/${project}/zones/${zone}/instances/${current.users[0]}`);
        state.disks.delete(`${project}/${zone}/${name}`);
        state.closeRecord('disk', project, name, zone, deps.now());
        deps.vm.releaseContent(current.content, { kind: 'disk', project, zone, name });
      },
    });
    return { json: ops.toJSON(op) };
  });

  router.add('GET', `${V1}/zones/:zone/disks`, 'disks.list', ({ params: { project, zone }, query }) => {
    requireZone(deps, project!, zone!);
    const disks = [...state.disks.values()].filter((d) => d.project === project && d.zone === zone).map(diskJson);
    return { json: listBody('disk', `projects/${project}/zones/${zone}/disks`, disks, query) };
  });

  router.add('GET', `${V1}/aggregated/disks`, 'disks.aggregatedList', ({ params: { project }, query }) => {
    const p = project!;
    if (!state.projects.has(p)) throw notFound(`projects/${p}`);
    const byZone = (zone: string): Record<string, unknown>[] =>
      [...state.disks.values()].filter((d) => d.project === p && d.zone === zone).map(diskJson);
    return { json: aggregatedBody(deps, 'disk', 'disks', p, byZone, query) };
  });
}
