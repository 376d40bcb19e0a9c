// The `doctor` command's flags: will an image work on a GKE cluster, and did the cache hit (docs/architecture.md,
// Doctor). The key file means what it means for a build, so it is build's declaration.
import type { FlagSet, RunMode } from '../../config/flag.js';
import * as rules from '../../config/rules.js';
import { BUILD_FLAGS } from '../build/flags.js';

export const IMAGE_PATH = /^projects\/[a-z][a-z0-9.:-]*\/global\/images\/[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** `doctor` checks; `doctor --hits` reads the logs (docs/architecture.md, Doctor). */
const CHECKS: readonly RunMode[] = ['doctor'];
const BOTH: readonly RunMode[] = ['doctor', 'doctor --hits'];

export const DOCTOR_FLAGS = {
  cluster: {
    kind: 'string',
    appliesTo: BOTH,
    required: { what: 'projects/PROJECT/locations/LOCATION/clusters/NAME' },
    valueName: 'PATH',
    check: rules.clusterPath,
    help: 'the GKE cluster to check: projects/P/locations/L/clusters/C',
    doc: 'the GKE cluster: `projects/P/locations/L/clusters/C`',
  },
  'node-pool': {
    kind: 'string',
    appliesTo: CHECKS,
    defaultText: 'the pools that use the image',
    valueName: 'NAME',
    check: (v) => rules.gceName(v, 40),
    help: 'check this node pool (its secondary boot disks must name the image)',
    doc: 'check this node pool; its `secondaryBootDisks` must name the image in `CONTAINER_IMAGE_CACHE` mode',
  },
  image: {
    kind: 'string',
    appliesTo: CHECKS,
    conflicts: { 'image-name': 'they name the same thing' },
    valueName: 'PATH',
    check: (v) => (IMAGE_PATH.test(v) ? undefined : 'expected projects/PROJECT/global/images/NAME'),
    help: 'the disk image: projects/P/global/images/I',
    doc: 'the disk image: `projects/P/global/images/I`',
  },
  'image-name': {
    kind: 'string',
    appliesTo: CHECKS,
    valueName: 'NAME',
    check: (v) => rules.gceName(v, 63),
    help: 'the disk image by name, in --project-name',
    doc: 'the disk image by name, in `--project-name`',
  },
  'project-name': {
    kind: 'string',
    appliesTo: CHECKS,
    needs: { 'image-name': 'it is the project of that image' },
    aliases: ['project'],
    valueName: 'ID',
    defaultText: "the cluster's project",
    check: rules.projectId,
    help: 'project of --image-name',
    doc: 'project of `--image-name`',
  },
  workload: {
    kind: 'list',
    appliesTo: CHECKS,
    valueName: 'FILE',
    check: (v) => (v ? undefined : 'expected a path to a Kubernetes YAML file'),
    maxItems: 64,
    help: 'Kubernetes YAML (Deployments, StatefulSets, DaemonSets, Jobs, Pods) whose images must be on the disk; repeatable',
    doc: 'Kubernetes YAML (several documents; Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods): every container and init container reference must be on the disk; repeatable',
  },
  namespace: {
    kind: 'string',
    appliesTo: CHECKS,
    valueName: 'NS',
    check: rules.k8sNamespace,
    help: 'the pods of this namespace, read live from the cluster, must find their images on the disk',
    doc: 'the pods of this namespace, read live from the cluster: every container and init container reference must be on the disk',
  },
  hits: {
    kind: 'bool',
    appliesTo: BOTH,
    default: false,
    help: "report, per image reference, how many pulls the secondary boot disk backed (from the nodes' gcfs-snapshotter logs)",
    doc: "report, per image reference, how many pulls the secondary boot disk backed fully, partly or not at all (Cloud Logging, the nodes' `gcfs-snapshotter` lines)",
  },
  since: {
    kind: 'string',
    appliesTo: ['doctor --hits'],
    valueName: 'DURATION',
    default: '1h',
    check: rules.lifetime,
    help: 'with --hits: how far back to read the logs (Go duration, or days: 2d)',
    doc: 'with `--hits`: how far back to read (Go duration, or days: `2d`)',
  },
  json: {
    kind: 'bool',
    appliesTo: BOTH,
    default: false,
    help: 'print the result as one JSON object on stdout',
    doc: 'print the result as one JSON object on stdout',
  },
  'gcp-oauth': { ...BUILD_FLAGS['gcp-oauth'], appliesTo: BOTH },
} as const satisfies FlagSet;

export type DoctorFlags = typeof DOCTOR_FLAGS;
