// The `build` command's flags, each declared once: the Go tool's flags keep its names and defaults; `isNew` marks
// this tool's additions. `verify` takes the same set (it is `build --verify-only`), and `cleanup` has its own.
// Everything else — commander's options, --help, the schema, --config keys, the README table — is derived.
import type { FlagSet } from '../config/flag.js';
import * as rules from '../config/rules.js';

export const BUILD_FLAGS = {
  'project-name': { kind: 'string', aliases: ['project'], valueName: 'ID', defaultText: '$CLOUDSDK_CORE_PROJECT', check: rules.projectId, help: 'GCP project ID where the temporary resources and the image are created' },
  zone: { kind: 'string', valueName: 'ZONE', defaultText: '$CLOUDSDK_COMPUTE_ZONE', check: rules.zone, help: 'zone of the temporary disk and VM' },
  'image-name': { kind: 'string', valueName: 'NAME', check: (v) => rules.gceName(v, 63), help: 'name of the disk image to create (at most 39 characters for builds, since GKE derives a node label from it) or to verify' },
  'image-family-name': { kind: 'string', valueName: 'NAME', default: 'secondary-disk-image', check: (v) => rules.gceName(v, 63), help: 'image family of the created image' },
  'image-labels': { kind: 'list', valueName: 'KEY=VALUE', check: rules.labelCheck, maxItems: 64, help: 'label of the image; repeatable' },
  'job-name': { kind: 'string', valueName: 'NAME', default: 'secondary-disk-image', check: (v) => rules.gceName(v, 49), help: 'prefix of the temporary resources (at most 49 characters)' },
  'gcs-path': { kind: 'string', valueName: 'gs://BUCKET[/PREFIX]', check: rules.gcsPathCheck, help: 'where the logs are written' },
  'container-image': { kind: 'list', valueName: 'REF', check: rules.imageRef, help: 'container image to bake into the disk, with a tag or digest; repeatable' },
  'machine-type': { kind: 'string', valueName: 'TYPE', default: 'n2-standard-16', check: (v) => rules.gceName(v, 63), help: 'machine type of the temporary VM' },
  'disk-type': { kind: 'string', valueName: 'TYPE', default: 'pd-ssd', check: (v) => rules.gceName(v, 63), help: 'type of the data disk' },
  'disk-size-gb': { kind: 'int', valueName: 'GB', default: 60, min: 10, max: 65536, help: 'size of the data disk, and so of the image' },
  'boot-disk-size-gb': { kind: 'int', aliases: ['instance-disk-size-gb'], valueName: 'GB', default: 20, min: 10, max: 65536, isNew: true, help: "size of the temporary VM's boot disk (sized apart from the data disk)" },
  'service-account': { kind: 'string', valueName: 'EMAIL', default: 'default', check: rules.serviceAccount, help: 'service account of the temporary VM' },
  'gcp-oauth': { kind: 'string', valueName: 'FILE', check: (v) => (v ? undefined : 'expected a path to a key file'), help: 'service-account key file to authenticate with (relative or absolute path)' },
  'image-pull-auth': { kind: 'string', valueName: 'MODE', default: 'None', check: rules.pullAuth, help: "None, ServiceAccountToken, or Auto (the VM's token for Google registries only)" },
  timeout: { kind: 'string', valueName: 'DURATION', default: '20m', check: rules.stepTimeout, help: 'limit of each step, Go duration (90s, 20m, 1h30m)' },
  network: { kind: 'string', valueName: 'NETWORK', default: 'default', check: (v) => rules.resourceRef(v, rules.NETWORK_PATH, 'network'), help: 'VPC network of the temporary VM (name or resource path)' },
  subnet: { kind: 'string', valueName: 'SUBNET', check: (v) => rules.resourceRef(v, rules.SUBNET_PATH, 'subnetwork'), help: 'subnetwork of the temporary VM (name or resource path); unset lets GCE choose' },
  'store-snapshot-checksum': { kind: 'bool', default: true, help: 'compute and store a checksum per snapshot' },
  'verify-only': { kind: 'bool', default: false, help: 'verify the image named by --image-name instead of building' },
  'storage-location': { kind: 'list', valueName: 'LOCATION', check: rules.storageLocation, help: 'storage location of the image (e.g. us, eu, us-central1); repeatable' },
  'k8s-manifests-filepath': { kind: 'string', valueName: 'FILE', check: (v) => (v ? undefined : 'expected a file path'), help: 'write a VolumeSnapshotContent and VolumeSnapshot for the image to this file (its directory must exist)' },
  'k8s-namespace': { kind: 'string', valueName: 'NAMESPACE', default: 'default', check: rules.k8sNamespace, help: 'namespace of the VolumeSnapshot' },
  'boot-image': { kind: 'string', valueName: 'IMAGE', defaultText: 'debian-12 (debian-12-arm64 on Arm machine types)', check: rules.bootImage, isNew: true, help: 'boot image of the temporary VM: projects/P/global/images/NAME or .../images/family/FAMILY' },
  'no-external-ip': { kind: 'bool', default: false, isNew: true, help: 'give the VM no external IP (it then needs Cloud NAT or Private Google Access to reach registries)' },
  'shielded-vm': { kind: 'bool', default: false, isNew: true, help: 'run the VM with Secure Boot, vTPM and integrity monitoring' },
  'network-tags': { kind: 'list', valueName: 'TAG', check: (v) => rules.gceName(v, 63), maxItems: 64, isNew: true, help: 'network tag of the VM, for firewall rules; repeatable' },
  force: { kind: 'bool', default: false, isNew: true, help: 'replace an existing image of the same name; the old one is deleted only once the new disk is ready' },
  'keep-on-failure': { kind: 'bool', default: false, isNew: true, help: 'on failure, keep the VM and disk for debugging and print how to reach and delete them' },
  'dry-run': { kind: 'bool', default: false, isNew: true, help: 'validate and run the preflight checks, print the resources that would be created, create nothing' },
  json: { kind: 'bool', default: false, isNew: true, help: 'write machine-readable JSON events to stdout, one per line, the last one the result' },
  quiet: { kind: 'bool', default: false, isNew: true, help: 'print only warnings, errors and the result' },
  'log-level': { kind: 'string', valueName: 'LEVEL', default: 'off', check: rules.logLevel, isNew: true, help: 'diagnostic log on stderr: trace, debug, info, warn, error' },
  config: { kind: 'string', valueName: 'FILE', isNew: true, help: 'YAML or JSON file with the same keys as the flags; flags override it' },
  local: { kind: 'bool', default: false, isNew: true, help: 'build: bake the disk on this machine (Linux, root) instead of a VM and import it as the image; verify: verify a local disk file or archive' },
  output: { kind: 'string', valueName: 'FILE.tar.gz', check: rules.archiveOutput, isNew: true, help: 'with --local: write the GCE-importable archive here (without --image-name, only this is done)' },
  'keep-archive': { kind: 'bool', default: false, isNew: true, help: 'with --local: keep the archive uploaded to --gcs-path after the image is created' },
  'skip-image-check': { kind: 'bool', default: false, isNew: true, help: 'do not resolve the container images from this machine before starting' },
  platform: { kind: 'string', valueName: 'OS/ARCH', default: 'linux/amd64', check: rules.platform, isNew: true, help: 'platform of the images to pull (linux/arm64 for Arm node pools)' },
} as const satisfies FlagSet;

export type BuildFlags = typeof BUILD_FLAGS;
