#!/usr/bin/env node
// Thin shim: run the CLI, set the exit code, and end the process once its output is written.
import { exitWhenFlushed, run } from '../dist/cli.js';

exitWhenFlushed(await run(process.argv.slice(2)));
