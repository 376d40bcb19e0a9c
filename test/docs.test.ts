// The README documents every flag and the test command .ci/run runs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FLAGS } from '../src/config/flags.js';

const readme = readFileSync('README.md', 'utf8');

describe('README', () => {
  it.each(FLAGS.map((f) => f.name))('documents --%s', (name) => {
    expect(readme).toMatch(new RegExp(`\\| \`--${name}\``));
  });

  it('gives the exact test command that .ci/run runs', () => {
    const ci = readFileSync('.ci/run', 'utf8').trim().split('\n').pop()!;
    expect(readme).toContain(`\`\`\`sh\n${ci}\n\`\`\``);
  });
});
