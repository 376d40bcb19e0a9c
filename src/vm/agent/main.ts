// The agent's entry point, bundled at `npm run build` into one file and delivered in metadata gdib-agent
// (docs/vm-script.md, Bundle). Nothing here reads a benchmark switch: the shipped agent runs with its defaults.
import { startAgent } from './start.js';

await startAgent({});
