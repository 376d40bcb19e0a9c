// The agent's entry point, bundled at `npm run build` into one file and delivered in metadata gdib-agent
// (docs/vm-script.md, Node on the VM, and the bundle). Nothing here reads a benchmark switch: the shipped agent runs with its defaults.
import { startAgent } from './start.js';

await startAgent({});
