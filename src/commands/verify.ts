// The `verify` command: the Go tool's `--verify-only` as a command of its own, so it takes exactly build's flags
// (a config file written for a build verifies the same image). With --local it takes a FILE argument instead.
import { BUILD_FLAGS } from './build.js';

export const VERIFY_FLAGS = BUILD_FLAGS;
export const VERIFY_ARGUMENT = { name: 'file', help: 'with --local: the disk file or .tar.gz archive to verify' } as const;
