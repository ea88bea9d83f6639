#!/usr/bin/env node
// Entry point of the `ipms` command. The sources are TypeScript; tsx (a runtime dependency)
// compiles them on load, so `npm ci --omit=dev` installs a working command without a build step.
import { register } from 'tsx/esm/api';

register();
// `ipms rules list | head`: a closed pipe ends the command quietly, as in any Unix tool
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv);
