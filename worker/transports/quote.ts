/**
 * An SSH exec request is a command line for the remote user's shell, so argv must be quoted.
 * Every argument is single-quoted (a ' becomes '\''), whatever it holds: adapters only pass
 * validated canonical values, and the quoting makes sure nothing else could ever be read as
 * shell syntax.
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
