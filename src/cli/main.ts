import { main } from './program.ts';

const code = await main(process.argv.slice(2));
// Flush stdout before exiting: piped output is written asynchronously.
process.stdout.write('', () => process.exit(code));
