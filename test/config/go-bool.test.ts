// The boolean spellings of Go's strconv.ParseBool, and the commands that read their flags with them.
import { describe, expect, it } from 'vitest';
import { parseCleanupPlan as parseCleanupConfig } from '../../src/commands/cleanup/plan.js';
import { parseGoBool } from '../../src/config/go-bool.js';

describe('parseGoBool', () => {
  it.each([
    ['1', true],
    ['t', true],
    ['T', true],
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['0', false],
    ['f', false],
    ['F', false],
    ['false', false],
    ['FALSE', false],
    ['False', false],
    ['yes', undefined],
    ['tRUE', undefined],
    ['', undefined],
    [' true', undefined],
  ])('%j → %s', (value, want) => {
    expect(parseGoBool(value)).toBe(want);
  });

  it('cleanup reads --dry-run with every spelling Go accepts', () => {
    for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True'])
      expect(parseCleanupConfig({ flags: { 'project-name': 'test-project', 'dry-run': v } }, {}, '/').dryRun).toBe(true);
    for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False'])
      expect(parseCleanupConfig({ flags: { 'project-name': 'test-project', 'dry-run': v } }, {}, '/').dryRun).toBe(false);
  });
});
