#!/usr/bin/env node
// Thin shim: run the CLI and set the exit code (never process.exit(), which cuts piped output).
import { run } from '../dist/cli.js';

process.exitCode = await run(process.argv.slice(2));
