// The agent with typed options (AgentOptions), for rig runs that need one: the very agent code, bundled
// by the rig with the options compiled in (test/rig/agent-bundle.ts). Never shipped.
import type { AgentOptions } from '../../src/vm/agent/context.js';
import { startAgent } from '../../src/vm/agent/start.js';

declare const __RIG_AGENT_OPTIONS__: AgentOptions;

await startAgent(__RIG_AGENT_OPTIONS__);
