// The `cleanup` command's flags. The project and the key file mean what they mean for a build, so they are
// build's declarations, applied to cleanup; the zone and --dry-run read differently here.
import type { FlagSet, RunMode } from '../../config/flag.js';
import * as rules from '../../config/rules.js';
import { BUILD_FLAGS } from '../build/flags.js';

const CLEANUP: readonly RunMode[] = ['cleanup'];

export const CLEANUP_FLAGS = {
  'project-name': {
    ...BUILD_FLAGS['project-name'],
    appliesTo: CLEANUP,
    required: { what: 'a GCP project ID: --project-name or $CLOUDSDK_CORE_PROJECT' },
  },
  // Not taken from CLOUDSDK_COMPUTE_ZONE: without --zone, cleanup scans every zone.
  zone: { kind: 'string', appliesTo: CLEANUP, valueName: 'ZONE', defaultText: 'all zones', check: rules.zone, help: 'only this zone' },
  'gcp-oauth': { ...BUILD_FLAGS['gcp-oauth'], appliesTo: CLEANUP },
  'older-than': {
    kind: 'string',
    appliesTo: CLEANUP,
    valueName: 'DURATION',
    default: '1h',
    check: rules.olderThan,
    help: 'only resources created longer ago than this (Go duration; 0 for any age); never those of a build that may still be running',
    doc: 'only resources created longer ago than this (Go duration; `0` for any age); never those of a build that may still be running (see above)',
  },
  'dry-run': {
    kind: 'bool',
    appliesTo: CLEANUP,
    default: false,
    help: 'list what would be deleted, delete nothing',
    doc: 'list, delete nothing',
  },
} as const satisfies FlagSet;

export type CleanupFlags = typeof CLEANUP_FLAGS;
