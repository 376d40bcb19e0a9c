/**
 * Global images: get, getFromFamily, list, insert (from a disk, an image or a GCS object), delete.
 */
import { alreadyExists, inUse, invalid, notFound } from '../errors.js';
import type { Router } from '../router.js';
import type { Image, ImageDeprecation } from '../state.js';
import { listBody, requireProject, type ComputeDeps } from './context.js';
import { checkLabels, checkName, diskLink, expectRef, imageLink, timestamp, type ResourceRef } from './urls.js';
import { keyVersionJson, usableKey } from '../kms.js';

const V1 = '/compute/v1/projects/:project/global/images';
const GIB = 1024 ** 3;

export function imageJson(i: Image): Record<string, unknown> {
  return {
    kind: 'compute#image',
    id: i.id,
    name: i.name,
    creationTimestamp: timestamp(i.createdAt),
    ...(i.family ? { family: i.family } : {}),
    ...(i.description !== undefined ? { description: i.description } : {}),
    labels: i.labels,
    labelFingerprint: 'bGFiZWxz',
    storageLocations: i.storageLocations,
    diskSizeGb: String(i.diskSizeGb),
    archiveSizeBytes: String(i.diskSizeGb * 128 * 1024 * 1024),
    sourceType: 'RAW',
    ...(i.sourceDisk ? { sourceDisk: i.sourceDisk, sourceDiskId: i.sourceDiskId } : {}),
    ...(i.rawDiskSource ? { rawDisk: { source: i.rawDiskSource, containerType: 'TAR' } } : {}),
    ...(i.architecture ? { architecture: i.architecture } : {}),
    ...(i.deprecated ? { deprecated: i.deprecated } : {}),
    ...(i.kmsKeyName ? { imageEncryptionKey: keyVersionJson(i.kmsKeyName) } : {}),
    status: i.status,
    selfLink: imageLink(i.project, i.name),
  };
}

/**
 * Whether an image is its family's candidate: READY and ACTIVE. An image whose deprecation status is ACTIVE (with
 * times recorded, or none) stays; DEPRECATED, OBSOLETE and DELETED images drop out, as GCE.
 */
const inFamily = (i: Image): boolean => i.status === 'READY' && (i.deprecated?.state ?? 'ACTIVE') === 'ACTIVE';

/** The image a `sourceImage` reference names; family references pick the newest non-deprecated one. */
export function resolveImage(deps: ComputeDeps, ref: ResourceRef): Image {
  if (ref.family !== undefined) {
    const candidates = [...deps.state.images.values()]
      .filter((i) => i.project === ref.project && i.family === ref.family && inFamily(i))
      .sort((a, b) => b.createdAt - a.createdAt);
    if (!candidates[0]) throw notFound(`projects/${ref.project}/global/images/family/${ref.family}`);
    return candidates[0];
  }
  const image = deps.state.image(ref.project, ref.name);
  if (!image) throw notFound(`projects/${ref.project}/global/images/${ref.name}`);
  return image;
}

export function registerImages(router: Router, deps: ComputeDeps): void {
  const { state, ops } = deps;

  router.add('GET', `${V1}/family/:family`, 'images.getFromFamily', ({ params: { project, family } }) => {
    requireProject(deps, project!);
    return { json: imageJson(resolveImage(deps, { project: project!, collection: 'images', name: '', family: family! })) };
  });

  router.add('GET', `${V1}/:name`, 'images.get', ({ params: { project, name } }) => {
    requireProject(deps, project!);
    const image = state.image(project!, name!);
    if (!image) throw notFound(`projects/${project}/global/images/${name}`);
    return { json: imageJson(image) };
  });

  router.add('GET', V1, 'images.list', ({ params: { project }, query }) => {
    requireProject(deps, project!);
    const mine = [...state.images.values()].filter((i) => i.project === project).map(imageJson);
    return { json: listBody('image', `projects/${project}/global/images`, mine, query) };
  });

  router.add('POST', V1, 'images.insert', ({ params: { project }, query, body, fault }) => {
    requireProject(deps, project!);
    const b = (body ?? {}) as Record<string, unknown>;
    const name = checkName(b['name']);
    const family = b['family'] === undefined ? undefined : checkName(b['family'], 'resource.family');
    const labels = checkLabels(b['labels']);
    const description = b['description'] === undefined ? undefined : checkDescription(b['description']);
    const storageLocations = Array.isArray(b['storageLocations']) ? (b['storageLocations'] as string[]) : ['us'];
    const target = imageLink(project!, name);
    if (state.image(project!, name) || ops.insertInFlight(target)) throw alreadyExists(`projects/${project}/global/images/${name}`);

    const sources = ['sourceDisk', 'sourceImage', 'rawDisk'].filter((k) => b[k] !== undefined);
    if (sources.length !== 1) throw invalid('Exactly one of sourceDisk, sourceImage or rawDisk must be given.');
    const kmsKeyName = usableKey(state, b['imageEncryptionKey'], 'resource.imageEncryptionKey');
    const base = {
      project: project!,
      name,
      labels,
      storageLocations,
      ...(kmsKeyName ? { kmsKeyName } : {}),
      ...(family ? { family } : {}),
      ...(description !== undefined ? { description } : {}),
    };
    let make: () => Omit<Image, 'id' | 'createdAt' | 'seeded' | 'status'>;

    if (b['sourceDisk'] !== undefined) {
      const ref = expectRef(b['sourceDisk'], project!, 'resource.sourceDisk', 'disks');
      if (!ref.zone) throw invalid(`Invalid value for field 'resource.sourceDisk': '${String(b['sourceDisk'])}'.`);
      const zone = ref.zone;
      const disk = state.disk(ref.project, zone, ref.name);
      if (!disk) throw notFound(`projects/${ref.project}/zones/${zone}/disks/${ref.name}`);
      const runningUser = disk.users.find((u) => state.instance(ref.project, zone, u)?.status === 'RUNNING');
      if (runningUser && query.get('forceCreate') !== 'true') {
        throw inUse(
          `disk resource '${diskRefPath(ref.project, zone, disk.name)}'`,
          `projects/${ref.project}/zones/${zone}/instances/${runningUser}`,
        );
      }
      make = () => {
        const d = state.disk(ref.project, zone, ref.name);
        if (!d) throw notFound(diskRefPath(ref.project, zone, ref.name));
        return {
          ...base,
          diskSizeGb: d.sizeGb,
          sourceDisk: diskLink(d.project, d.zone, d.name),
          sourceDiskId: d.id,
          ...(d.architecture ? { architecture: d.architecture } : {}),
          ...(d.content !== undefined
            ? {
                content: deps.vm.copyContent(
                  d.content,
                  { kind: 'image', project: project!, name },
                  { kind: 'disk', project: d.project, zone: d.zone, name: d.name },
                ),
              }
            : {}),
        };
      };
    } else if (b['sourceImage'] !== undefined) {
      const src = resolveImage(deps, expectRef(b['sourceImage'], project!, 'resource.sourceImage', 'images'));
      make = () => ({
        ...base,
        diskSizeGb: src.diskSizeGb,
        ...(src.architecture ? { architecture: src.architecture } : {}),
        ...(src.content !== undefined
          ? {
              content: deps.vm.copyContent(
                src.content,
                { kind: 'image', project: project!, name },
                { kind: 'image', project: src.project, name: src.name },
              ),
            }
          : {}),
      });
    } else {
      const source = String((b['rawDisk'] as Record<string, unknown> | null)?.['source'] ?? '');
      const m = /^(?:https:\/\/storage\.(?:googleapis|cloud\.google)\.com\/|gs:\/\/)([^/]+)\/(.+)$/.exec(source);
      if (!m) throw invalid(`Invalid value for field 'resource.rawDisk.source': '${source}'.`);
      make = () => {
        const obj = state.object(m[1]!, decodeURIComponent(m[2]!));
        if (!obj) throw notFound(`${source}' of type 'GCS object`);
        return { ...base, diskSizeGb: Math.max(1, Math.ceil(obj.data.length / GIB)), rawDiskSource: source };
      };
    }

    const op = ops.start({
      project: project!,
      operationType: 'insert',
      targetLink: target,
      ...(fault ? { fault } : {}),
      apply: () => {
        const image: Image = { ...make(), id: state.newId(), createdAt: deps.now(), seeded: false, status: 'READY' };
        state.images.set(`${project}/${name}`, image);
        state.record({ kind: 'image', project: project!, name, sizeGb: image.diskSizeGb, createdAt: image.createdAt });
      },
    });
    return { json: ops.toJSON(op) };
  });

  router.add('POST', `${V1}/:name/deprecate`, 'images.deprecate', ({ params: { project, name }, body, fault }) => {
    requireProject(deps, project!);
    if (!state.image(project!, name!)) throw notFound(`projects/${project}/global/images/${name}`);
    const status = checkDeprecation(body, project!);
    const op = ops.start({
      project: project!,
      operationType: 'deprecate',
      targetLink: imageLink(project!, name!),
      ...(fault ? { fault } : {}),
      apply: () => {
        const current = state.image(project!, name!);
        if (!current) throw notFound(`projects/${project}/global/images/${name}`);
        // The status given replaces the old one whole; ACTIVE with no time clears it, as GCE.
        if (status.state === 'ACTIVE' && Object.keys(status).length === 1) delete current.deprecated;
        else current.deprecated = status;
      },
    });
    return { json: ops.toJSON(op) };
  });

  router.add('DELETE', `${V1}/:name`, 'images.delete', ({ params: { project, name }, fault }) => {
    requireProject(deps, project!);
    const image = state.image(project!, name!);
    if (!image) throw notFound(`projects/${project}/global/images/${name}`);
    const op = ops.start({
      project: project!,
      operationType: 'delete',
      targetLink: imageLink(project!, name!),
      targetId: image.id,
      ...(fault ? { fault } : {}),
      apply: () => {
        const current = state.image(project!, name!);
        if (!current || !state.images.delete(`${project}/${name}`)) throw notFound(`projects/${project}/global/images/${name}`);
        deps.vm.releaseContent(current.content, { kind: 'image', project: project!, name: name! });
        state.closeRecord('image', project!, name!, undefined, deps.now());
      },
    });
    return { json: ops.toJSON(op) };
  });
}

const diskRefPath = (project: string, zone: string, name: string): string => `projects/${project}/zones/${zone}/disks/${name}`;

const DEPRECATION_STATES = ['ACTIVE', 'DEPRECATED', 'OBSOLETE', 'DELETED'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A DeprecationStatus body: a known state (default ACTIVE, emulator choice), RFC 3339 times, and a replacement
 * that is an image URL or path (its form is checked, not that it exists). Anything else → 400.
 */
function checkDeprecation(body: unknown, project: string): ImageDeprecation {
  const b = (body ?? {}) as Record<string, unknown>;
  const state = b['state'] ?? 'ACTIVE';
  if (!DEPRECATION_STATES.includes(state as ImageDeprecation['state']))
    throw invalid(`Invalid value for field 'deprecationStatusResource.state': '${String(state)}'.`);
  const out: ImageDeprecation = { state: state as ImageDeprecation['state'] };
  for (const k of ['deprecated', 'obsolete', 'deleted'] as const) {
    const v = b[k];
    if (v === undefined || v === '') continue;
    if (typeof v !== 'string' || !RFC3339.test(v) || Number.isNaN(Date.parse(v)))
      throw invalid(`Invalid value for field 'deprecationStatusResource.${k}': '${String(v)}'. Must be an RFC 3339 timestamp.`);
    out[k] = v;
  }
  if (b['replacement'] !== undefined && b['replacement'] !== '') {
    expectRef(b['replacement'], project, 'deprecationStatusResource.replacement', 'images');
    out.replacement = String(b['replacement']);
  }
  return out;
}

/** GCE takes a description of at most 2048 characters. */
function checkDescription(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2048)
    throw invalid(`Invalid value for field 'resource.description': the description must be a string of at most 2048 characters.`);
  return value;
}
