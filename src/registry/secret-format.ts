// The registry-secret format is the VM contract's (src/vm/secret-format.ts): one parser for the CLI and the agent.
export * from '../vm/secret-format.js';
