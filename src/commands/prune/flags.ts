// The `prune` command's flags (docs/architecture.md, Image lifetime). The project and the key file mean what they
// mean for a build, so they are build's declarations; the family is required here, not defaulted: prune acts on
// one family, named.
import type { FlagSet, RunMode } from '../../config/flag.js';
import * as rules from '../../config/rules.js';
import { BUILD_FLAGS } from '../build/flags.js';

const PRUNE: readonly RunMode[] = ['prune'];

export const PRUNE_FLAGS = {
  'project-name': {
    ...BUILD_FLAGS['project-name'],
    appliesTo: PRUNE,
    required: { what: 'a GCP project ID: --project-name or $CLOUDSDK_CORE_PROJECT' },
    help: 'GCP project ID that holds the images (and whose clusters are checked)',
    doc: 'GCP project ID that holds the images; its clusters are checked too',
  },
  'image-family-name': {
    kind: 'string',
    appliesTo: PRUNE,
    required: { what: 'the image family to prune' },
    valueName: 'NAME',
    check: (v: string) => rules.gceName(v, 63),
    help: 'the image family to prune (only the images this tool built are considered)',
    doc: 'the image family to prune; only its images that this tool built (its record in the description) are considered',
  },
  'gcp-oauth': { ...BUILD_FLAGS['gcp-oauth'], appliesTo: PRUNE },
  keep: {
    kind: 'int',
    appliesTo: PRUNE,
    valueName: 'N',
    default: 3,
    min: 1,
    max: 1000,
    help: 'keep the newest N ACTIVE (not deprecated) images of the family',
    doc: 'keep the newest `N` ACTIVE (not deprecated) images of the family (at least 1)',
  },
  'min-age': {
    kind: 'string',
    appliesTo: PRUNE,
    valueName: 'DURATION',
    default: '7d',
    check: rules.lifetime,
    help: 'keep images younger than this; with --delete, delete only images deprecated at least this long (30d, 72h)',
    doc: 'keep every image younger than this; `--delete` deletes only images deprecated at least this long (Go duration plus days: `7d`, `72h`)',
  },
  delete: {
    kind: 'bool',
    appliesTo: PRUNE,
    default: false,
    help: 'delete the images deprecated for at least --min-age (a later run than the one that deprecated them)',
    doc: 'also delete the images that have been deprecated for at least `--min-age` (so one run deprecates, a later one deletes); refused while a cluster cannot be read',
  },
  'cluster-project': {
    kind: 'list',
    appliesTo: PRUNE,
    valueName: 'PROJECT',
    check: rules.projectId,
    maxItems: 100,
    help: "also check the clusters of this project for node pools that use the family's images; repeatable",
    doc: "also check this project's clusters (node pools, ComputeClasses, allowlists) for uses of the images, e.g. clusters that use images of `--project-name` across projects",
  },
  'dry-run': {
    kind: 'bool',
    appliesTo: PRUNE,
    default: false,
    help: 'print the plan, change nothing',
    doc: 'print the plan; change nothing (only reads)',
  },
  json: {
    kind: 'bool',
    appliesTo: PRUNE,
    default: false,
    help: 'write the plan and the outcome per image to stdout as one JSON document',
    doc: 'stdout carries one JSON document: the plan and the outcome per image (see [Keeping the family tidy](#keeping-the-family-tidy))',
  },
} as const satisfies FlagSet;

export type PruneFlags = typeof PRUNE_FLAGS;
