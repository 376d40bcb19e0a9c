// The `cleanup` command's flags. The project and the key file mean what they mean for a build, so they are
// build's declarations; the zone and --dry-run read differently here.
import type { FlagSet } from '../config/flag.js';
import * as rules from '../config/rules.js';
import { BUILD_FLAGS } from './build.js';

export const CLEANUP_FLAGS = {
  'project-name': BUILD_FLAGS['project-name'],
  // Not taken from CLOUDSDK_COMPUTE_ZONE: without --zone, cleanup scans every zone.
  zone: { kind: 'string', valueName: 'ZONE', defaultText: 'all zones', check: rules.zone, help: 'only this zone', docDefault: 'all zones' },
  'gcp-oauth': BUILD_FLAGS['gcp-oauth'],
  'older-than': {
    kind: 'string',
    valueName: 'DURATION',
    default: '1h',
    check: rules.olderThan,
    help: 'only resources created longer ago than this (Go duration; 0 for all)',
    doc: 'only resources created longer ago than this (Go duration; `0` for all)',
  },
  'dry-run': { kind: 'bool', default: false, help: 'list what would be deleted, delete nothing', doc: 'list, delete nothing' },
} as const satisfies FlagSet;

export type CleanupFlags = typeof CLEANUP_FLAGS;
