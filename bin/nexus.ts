#!/usr/bin/env node
// The `nexus` command line; see src/cli/main.ts.
import { runCli } from "../src/cli/main.ts";

process.exitCode = await runCli(process.argv.slice(2));
