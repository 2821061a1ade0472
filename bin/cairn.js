#!/usr/bin/env node
// The `cairn` executable: runs the compiled CLI (npm run build writes dist/).
import('../dist/src/cli/main.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (error) => {
    const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js');
    process.stderr.write(missing ? 'cairn: not built: run npm run build first\n' : `cairn: cannot load: ${error?.message ?? error}\n`);
    process.exit(1);
  },
);
