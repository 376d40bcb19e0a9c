// The command-line flags: one table, the single source of their names, kinds, defaults and help.
// Names and defaults are the Go tool's (docs/architecture.md, Command line and credentials); flags marked "new" are this tool's additions.

export type FlagKind = 'string' | 'int' | 'bool' | 'list';

export interface FlagDef {
  /** Long name without dashes, e.g. "project-name". */
  name: string;
  kind: FlagKind;
  help: string;
  aliases?: readonly string[];
  /** Default shown in --help (the schema applies it). */
  defaultText?: string;
  /** Placeholder in --help. */
  valueName?: string;
}

export const FLAGS: readonly FlagDef[] = [
  { name: 'project-name', aliases: ['project'], kind: 'string', valueName: 'ID', defaultText: '$CLOUDSDK_CORE_PROJECT', help: 'GCP project ID where the temporary resources and the image are created' },
  { name: 'zone', kind: 'string', valueName: 'ZONE', defaultText: '$CLOUDSDK_COMPUTE_ZONE', help: 'zone of the temporary disk and VM' },
  { name: 'image-name', kind: 'string', valueName: 'NAME', help: 'name of the disk image to create (or to verify); at most 39 characters for builds, since GKE derives a node label from it' },
  { name: 'image-family-name', kind: 'string', valueName: 'NAME', defaultText: 'secondary-disk-image', help: 'image family of the created image' },
  { name: 'image-labels', kind: 'list', valueName: 'KEY=VALUE', help: 'label of the image; repeatable' },
  { name: 'job-name', kind: 'string', valueName: 'NAME', defaultText: 'secondary-disk-image', help: 'prefix of the temporary resources (at most 49 characters)' },
  { name: 'gcs-path', kind: 'string', valueName: 'gs://BUCKET[/PREFIX]', help: 'where the logs are written' },
  { name: 'container-image', kind: 'list', valueName: 'REF', help: 'container image to bake into the disk, with a tag or digest; repeatable' },
  { name: 'machine-type', kind: 'string', valueName: 'TYPE', defaultText: 'n2-standard-16', help: 'machine type of the temporary VM' },
  { name: 'disk-type', kind: 'string', valueName: 'TYPE', defaultText: 'pd-ssd', help: 'type of the data disk' },
  { name: 'disk-size-gb', kind: 'int', valueName: 'GB', defaultText: '60', help: 'size of the data disk, and so of the image' },
  { name: 'boot-disk-size-gb', aliases: ['instance-disk-size-gb'], kind: 'int', valueName: 'GB', defaultText: '20', help: 'size of the temporary VM\'s boot disk (new; sized apart from the data disk)' },
  { name: 'service-account', kind: 'string', valueName: 'EMAIL', defaultText: 'default', help: 'service account of the temporary VM' },
  { name: 'gcp-oauth', kind: 'string', valueName: 'FILE', help: 'service-account key file to authenticate with (relative or absolute path)' },
  { name: 'image-pull-auth', kind: 'string', valueName: 'MODE', defaultText: 'None', help: 'None, ServiceAccountToken, or Auto (the VM\'s token for Google registries only)' },
  { name: 'timeout', kind: 'string', valueName: 'DURATION', defaultText: '20m', help: 'limit of each step, Go duration (90s, 20m, 1h30m)' },
  { name: 'network', kind: 'string', valueName: 'NETWORK', defaultText: 'default', help: 'VPC network of the temporary VM (name or resource path)' },
  { name: 'subnet', kind: 'string', valueName: 'SUBNET', help: 'subnetwork of the temporary VM (name or resource path); unset lets GCE choose' },
  { name: 'store-snapshot-checksum', kind: 'bool', defaultText: 'true', help: 'compute and store a checksum per snapshot' },
  { name: 'verify-only', kind: 'bool', defaultText: 'false', help: 'verify the image named by --image-name instead of building' },
  { name: 'storage-location', kind: 'list', valueName: 'LOCATION', help: 'storage location of the image (e.g. us, eu, us-central1); repeatable' },
  { name: 'k8s-manifests-filepath', kind: 'string', valueName: 'FILE', help: 'write a VolumeSnapshotContent and VolumeSnapshot for the image to this file (its directory must exist)' },
  { name: 'k8s-namespace', kind: 'string', valueName: 'NAMESPACE', defaultText: 'default', help: 'namespace of the VolumeSnapshot' },
  { name: 'boot-image', kind: 'string', valueName: 'IMAGE', defaultText: 'debian-12 (debian-12-arm64 on Arm machine types)', help: 'boot image of the temporary VM: projects/P/global/images/NAME or .../images/family/FAMILY (new)' },
  { name: 'no-external-ip', kind: 'bool', defaultText: 'false', help: 'give the VM no external IP (it then needs Cloud NAT or Private Google Access to reach registries) (new)' },
  { name: 'shielded-vm', kind: 'bool', defaultText: 'false', help: 'run the VM with Secure Boot, vTPM and integrity monitoring (new)' },
  { name: 'network-tags', kind: 'list', valueName: 'TAG', help: 'network tag of the VM, for firewall rules; repeatable (new)' },
  { name: 'force', kind: 'bool', defaultText: 'false', help: 'replace an existing image of the same name; the old one is deleted only once the new disk is ready (new)' },
  { name: 'keep-on-failure', kind: 'bool', defaultText: 'false', help: 'on failure, keep the VM and disk for debugging and print how to reach and delete them (new)' },
  { name: 'dry-run', kind: 'bool', defaultText: 'false', help: 'validate and run the preflight checks (reads only), print the resources that would be created; creates, uploads and writes nothing, with --local too (new)' },
  { name: 'json', kind: 'bool', defaultText: 'false', help: 'write machine-readable JSON events to stdout, one per line, the last one the result (new)' },
  { name: 'quiet', kind: 'bool', defaultText: 'false', help: 'print only warnings, errors and the result (new)' },
  { name: 'log-level', kind: 'string', valueName: 'LEVEL', defaultText: 'off', help: 'diagnostic log on stderr: trace, debug, info, warn, error (new)' },
  { name: 'config', kind: 'string', valueName: 'FILE', help: 'YAML or JSON file with the same keys as the flags; flags override it (new)' },
  { name: 'local', kind: 'bool', defaultText: 'false', help: 'build: bake the disk on this machine (Linux, root) instead of a VM and import it as the image; verify: verify a local disk file or archive (new)' },
  { name: 'output', kind: 'string', valueName: 'FILE.tar.gz', help: 'with --local: write the GCE-importable archive here (its directory must exist; without --image-name, only this is done) (new)' },
  { name: 'keep-archive', kind: 'bool', defaultText: 'false', help: 'with --local: keep the archive uploaded to --gcs-path after the image is created (new)' },
  { name: 'skip-image-check', kind: 'bool', defaultText: 'false', help: 'do not resolve the container images from this machine before starting (new)' },
  { name: 'platform', kind: 'string', valueName: 'OS/ARCH', defaultText: 'linux/amd64', help: 'platform of the images to pull (linux/arm64 for Arm node pools) (new)' },
];

export const FLAG_BY_NAME: ReadonlyMap<string, FlagDef> = new Map(
  FLAGS.flatMap((f) => [[f.name, f] as const, ...(f.aliases ?? []).map((a) => [a, f] as const)]),
);

/** The flags of the `cleanup` command. */
export const CLEANUP_FLAGS: readonly FlagDef[] = [
  FLAG_BY_NAME.get('project-name')!,
  { name: 'zone', kind: 'string', valueName: 'ZONE', defaultText: 'all zones', help: 'only this zone' },
  FLAG_BY_NAME.get('gcp-oauth')!,
  { name: 'older-than', kind: 'string', valueName: 'DURATION', defaultText: '1h', help: 'only resources created longer ago than this (Go duration; 0 for all)' },
  { name: 'dry-run', kind: 'bool', defaultText: 'false', help: 'list what would be deleted, delete nothing' },
];

/** Raw values as read from the command line, keyed by canonical flag name. */
export type RawFlags = Partial<Record<string, string | string[]>>;
