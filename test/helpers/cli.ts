/** Run the ipms CLI in-process against a test database, capturing what it prints. */
import { main } from '../../cli/main.ts';

export interface CliResult {
  code: number;
  out: string;
  err: string;
  json<T = unknown>(): T;
}

export async function ipms(url: string | undefined, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: '/nonexistent', USER: 'tester' };
  if (url) env.IPMS_DATABASE_URL = url;
  const code = await main(['node', 'ipms', ...args], { out: (s) => out.push(s), err: (s) => err.push(s), isTty: false }, env);
  const o = out.join('\n');
  return {
    code,
    out: o,
    err: err.join('\n'),
    json<T>() {
      return JSON.parse(o) as T;
    },
  };
}
