#!/usr/bin/env node
// Entry point of the `ipms` command. The sources are TypeScript; tsx (a runtime dependency)
// compiles them on load, so `npm ci --omit=dev` installs a working command without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
