/**
 * instances.insert: check the request as GCE does and plan the change its operation applies.
 *
 * Checked up front (the call answers 4xx): name, machine type in the zone, exactly one boot
 * disk and it first, boot image architecture = machine architecture, attached disks exist and
 * are free, device names unique, ≥1 network interface with a network/subnetwork in the zone's
 * region, metadata within GCE's limits (256 KiB per value, 512 KiB in all). Checked again when
 * the operation completes (it ends with an error): attached disks still free, new disk names free.
 */
import { alreadyExists, inUse, invalid, notFound } from '../errors.js';
import type { AttachedDisk, Disk, Instance, MetadataItem } from '../state.js';
import { SerialBuffer } from './serial.js';
import { requireZone, type ComputeDeps } from './context.js';
import { checkSize, requireDiskType } from './disks.js';
import { imageJson, resolveImage } from './images.js';
import { usableKey } from '../kms.js';
import { checkLabels, checkName, expectRef, link } from './urls.js';

type Body = Record<string, unknown>;
const MAX_VALUE_BYTES = 256 * 1024;
const MAX_METADATA_BYTES = 512 * 1024;

/** Validate an insert body; answers the function that creates the instance at DONE. */
export function planInsert(deps: ComputeDeps, project: string, zone: string, body: Body): () => Instance {
  const { state } = deps;
  const z = requireZone(deps, project, zone);
  const name = checkName(body['name']);
  const labels = checkLabels(body['labels']);
  const mtRef = expectRef(body['machineType'], project, 'resource.machineType', 'machineTypes', zone);
  const machine = state.machineTypes.get(mtRef.name);
  if (!machine) {
    throw invalid(
      `Invalid value for field 'resource.machineType': '${String(body['machineType'])}'. Machine type with name '${mtRef.name}' does not exist in zone '${zone}'.`,
    );
  }
  const metadataItems = checkMetadata(body['metadata']);
  const networkInterfaces = planNetworks(deps, project, zone, z.region, body['networkInterfaces']);

  const requested = Array.isArray(body['disks']) ? (body['disks'] as Body[]) : [];
  if (requested.length === 0 || requested[0]?.['boot'] !== true || requested.filter((d) => d['boot'] === true).length !== 1) {
    throw invalid("Invalid value for field 'resource.disks': exactly one boot disk is required, and it must be the first disk.");
  }
  const newDisks: Disk[] = [];
  /** The image each new disk is made from, when it has a content to copy. */
  const newDiskImages = new Map<string, { kind: 'image'; project: string; name: string }>();
  const attached: AttachedDisk[] = [];
  requested.forEach((d, index) => {
    const field = `resource.disks[${index}]`;
    const boot = d['boot'] === true;
    let diskName: string;
    if (d['source'] !== undefined) {
      const ref = expectRef(d['source'], project, `${field}.source`, 'disks', zone);
      const disk = state.disk(ref.project, zone, ref.name);
      if (!disk) throw notFound(`projects/${ref.project}/zones/${zone}/disks/${ref.name}`);
      if (disk.users[0])
        throw inUse(
          `disk resource 'projects/${project}/zones/${zone}/disks/${disk.name}'`,
          `projects/${project}/zones/${zone}/instances/${disk.users[0]}`,
        );
      if (boot && disk.architecture && disk.architecture !== machine.architecture)
        throw archMismatch(machine.name, machine.architecture, disk.architecture);
      diskName = disk.name;
    } else if (d['initializeParams'] !== undefined) {
      const p = d['initializeParams'] as Body;
      diskName = checkName(p['diskName'] ?? (boot ? name : undefined), `${field}.initializeParams.diskName`);
      const type = requireDiskType(
        deps,
        p['diskType'] ?? `zones/${zone}/diskTypes/pd-standard`,
        project,
        zone,
        `${field}.initializeParams.diskType`,
      );
      const imageRef = p['sourceImage'];
      const image =
        imageRef === undefined
          ? undefined
          : resolveImage(deps, expectRef(imageRef, project, `${field}.initializeParams.sourceImage`, 'images'));
      if (boot && !image)
        throw invalid(`Invalid value for field '${field}.initializeParams.sourceImage': a boot disk needs a source image.`);
      if (boot && image?.architecture && image.architecture !== machine.architecture)
        throw archMismatch(machine.name, machine.architecture, image.architecture);
      const sizeGb = checkSize(p['diskSizeGb'], type, image?.diskSizeGb, `${field}.initializeParams.diskSizeGb`);
      if (image?.content !== undefined) newDiskImages.set(diskName, { kind: 'image', project: image.project, name: image.name });
      newDisks.push({
        project,
        zone,
        name: diskName,
        sizeGb,
        type: type.name,
        labels: checkLabels(p['labels']),
        users: [],
        status: 'READY',
        id: '',
        createdAt: 0,
        seeded: false,
        ...(image ? { sourceImage: String(imageJson(image)['selfLink']), sourceImageId: image.id } : {}),
        ...(image?.content !== undefined ? { content: image.content } : {}),
        ...(image?.architecture ? { architecture: image.architecture } : {}),
        ...withKey(usableKey(state, d['diskEncryptionKey'], `${field}.diskEncryptionKey`)),
      });
    } else {
      throw invalid(`Invalid value for field '${field}': either source or initializeParams is required.`);
    }
    const deviceName = typeof d['deviceName'] === 'string' ? d['deviceName'] : diskName;
    if (attached.some((a) => a.deviceName === deviceName))
      throw invalid(`Invalid value for field '${field}.deviceName': '${deviceName}'. Device names must be unique.`);
    if (attached.some((a) => a.diskName === diskName))
      throw invalid(`Invalid value for field '${field}': disk '${diskName}' is attached twice.`);
    attached.push({
      deviceName,
      diskName,
      boot,
      autoDelete: d['autoDelete'] === true,
      mode: d['mode'] === 'READ_ONLY' ? 'READ_ONLY' : 'READ_WRITE',
      index,
    });
  });

  const { name: _n, machineType: _m, disks: _d, metadata: _md, labels: _l, networkInterfaces: _ni, ...rest } = body;
  return () => {
    const now = deps.now();
    for (const a of attached) {
      const existing = state.disk(project, zone, a.diskName);
      const created = newDisks.find((d) => d.name === a.diskName);
      if (created && existing) throw alreadyExists(`projects/${project}/zones/${zone}/disks/${a.diskName}`);
      if (!created && !existing) throw notFound(`projects/${project}/zones/${zone}/disks/${a.diskName}`);
      if (existing?.users[0])
        throw inUse(
          `disk resource 'projects/${project}/zones/${zone}/disks/${a.diskName}'`,
          `projects/${project}/zones/${zone}/instances/${existing.users[0]}`,
        );
    }
    for (const d of newDisks) {
      const disk: Disk = { ...d, id: state.newId(), createdAt: now };
      const from = newDiskImages.get(d.name);
      if (from && d.content !== undefined)
        disk.content = deps.vm.copyContent(d.content, { kind: 'disk', project, zone, name: d.name }, from);
      state.disks.set(`${project}/${zone}/${d.name}`, disk);
      state.record({ kind: 'disk', project, zone, name: d.name, sizeGb: d.sizeGb, createdAt: now });
    }
    for (const a of attached) {
      const disk = state.disk(project, zone, a.diskName)!;
      disk.users.push(name);
      disk.lastAttachAt = now;
    }
    const instance: Instance = {
      project,
      zone,
      name,
      machineType: machine.name,
      status: 'RUNNING',
      disks: attached,
      metadataItems,
      labels,
      spec: { ...rest, networkInterfaces },
      serial: new SerialBuffer(deps.serialWindowBytes),
      guestAttributes: new Map(),
      vm: new AbortController(),
      id: state.newId(),
      createdAt: now,
      seeded: false,
    };
    state.instances.set(`${project}/${zone}/${name}`, instance);
    state.record({ kind: 'instance', project, zone, name, createdAt: now });
    return instance;
  };
}

function archMismatch(machine: string, machineArch: string, imageArch: string): Error {
  return invalid(
    `Invalid resource usage: 'Requested boot disk architecture (${imageArch}) is not compatible with machine type architecture (${machineArch}) of ${machine}.'`,
  );
}

function checkMetadata(raw: unknown): MetadataItem[] {
  const items = ((raw as Body | undefined)?.['items'] ?? []) as Array<{ key?: unknown; value?: unknown }>;
  const seen = new Set<string>();
  let total = 0;
  return items.map((item, i) => {
    const key = String(item.key ?? '');
    const value = String(item.value ?? '');
    if (!/^[a-zA-Z0-9-_]{1,128}$/.test(key)) throw invalid(`Invalid value for field 'resource.metadata.items[${i}].key': '${key}'.`);
    // An item carries a value (an absent key is how "no value" is said): an empty one is refused, so a client that
    // sends one is caught here.
    if (value === '') throw invalid(`Invalid value for field 'resource.metadata.items[${i}].value': ''. A metadata value is required.`);
    if (seen.has(key)) throw invalid(`Invalid value for field 'resource.metadata': duplicate key '${key}'.`);
    seen.add(key);
    const size = Buffer.byteLength(value);
    total += size + key.length;
    if (size > MAX_VALUE_BYTES)
      throw invalid(
        `Invalid value for field 'resource.metadata.items[${i}].value': value for key '${key}' is ${size} bytes; the limit is ${MAX_VALUE_BYTES}.`,
      );
    if (total > MAX_METADATA_BYTES)
      throw invalid(`Invalid value for field 'resource.metadata': metadata is larger than ${MAX_METADATA_BYTES} bytes.`);
    return { key, value };
  });
}

function planNetworks(deps: ComputeDeps, project: string, zone: string, region: string, raw: unknown): Body[] {
  const nics = Array.isArray(raw) ? (raw as Body[]) : [];
  if (nics.length === 0) throw invalid("Invalid value for field 'resource.networkInterfaces': at least one network interface is required.");
  return nics.map((nic, i) => {
    const field = `resource.networkInterfaces[${i}]`;
    let network: string | undefined;
    if (nic['network'] !== undefined) {
      const ref = expectRef(nic['network'], project, `${field}.network`, 'networks');
      if (!deps.state.networks.has(`${ref.project}/${ref.name}`)) throw notFound(`projects/${ref.project}/global/networks/${ref.name}`);
      network = `${ref.project}/${ref.name}`;
    }
    let subnet;
    if (nic['subnetwork'] !== undefined) {
      const ref = expectRef(nic['subnetwork'], project, `${field}.subnetwork`, 'subnetworks');
      if (ref.region !== region)
        throw invalid(
          `Invalid value for field '${field}.subnetwork': '${String(nic['subnetwork'])}'. Subnetwork must be in region ${region} of zone ${zone}.`,
        );
      subnet = deps.state.subnetworks.get(`${ref.project}/${ref.region}/${ref.name}`);
      if (!subnet) throw notFound(`projects/${ref.project}/regions/${ref.region}/subnetworks/${ref.name}`);
      if (network && network !== `${subnet.project}/${subnet.network}`)
        throw invalid(`Invalid value for field '${field}.subnetwork': it does not belong to the network.`);
    } else {
      const net = network ?? `${project}/default`;
      if (!deps.state.networks.has(net)) throw notFound(`projects/${project}/global/networks/default`);
      subnet = [...deps.state.subnetworks.values()].find((s) => `${s.project}/${s.network}` === net && s.region === region);
      if (!subnet) throw invalid(`Invalid value for field '${field}': network '${net}' has no subnetwork in region ${region}.`);
    }
    return {
      ...nic,
      kind: 'compute#networkInterface',
      name: `nic${i}`,
      network: link(`projects/${subnet.project}/global/networks/${subnet.network}`),
      subnetwork: link(`projects/${subnet.project}/regions/${subnet.region}/subnetworks/${subnet.name}`),
      networkIP: subnet.ipCidrRange.replace(/0\/\d+$/, String(10 + i)),
      stackType: 'IPV4_ONLY',
    };
  });
}

const withKey = (kmsKeyName: string | undefined): { kmsKeyName?: string } => (kmsKeyName ? { kmsKeyName } : {});
