// Rewrites the README's flag tables from the flag declarations (run through `npm run docs:flags`, after a build).
import { readFileSync, writeFileSync } from 'node:fs';
import { BUILD_FLAGS } from '../dist/commands/build/flags.js';
import { CLEANUP_FLAGS } from '../dist/commands/cleanup/flags.js';
import { DOCTOR_FLAGS } from '../dist/commands/doctor/flags.js';
import { RUN_MODES } from '../dist/config/flag.js';
import { PRUNE_FLAGS } from '../dist/commands/prune/flags.js';
import { flagTable, withTables } from '../dist/config/flag-table.js';

const readme = readFileSync('README.md', 'utf8');
writeFileSync(
  'README.md',
  withTables(readme, {
    build: flagTable(BUILD_FLAGS, 'flag', RUN_MODES),
    cleanup: flagTable(CLEANUP_FLAGS, '`cleanup` flag'),
    prune: flagTable(PRUNE_FLAGS, '`prune` flag'),
    doctor: flagTable(DOCTOR_FLAGS, '`doctor` flag', ['doctor', 'doctor --hits']),
  }),
);
