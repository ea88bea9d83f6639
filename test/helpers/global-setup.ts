/**
 * Runs once before all test files: makes sure a MySQL-compatible server is there (the local
 * one from scripts/db-server.sh unless IPMS_TEST_ADMIN_URL names another), removes databases
 * left by earlier runs (they are kept after a run for inspection), and hands the admin URL to
 * the test files.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { parseDatabaseUrl } from '../../lib/config.ts';
import { openDb } from '../../lib/db.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export default async function setup(project: TestProject): Promise<void> {
  let url = process.env.IPMS_TEST_ADMIN_URL;
  if (!url) {
    url = execFileSync('bash', ['scripts/db-server.sh', 'start'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      .trim()
      .split('\n')
      .pop()!;
  }
  const db = openDb(parseDatabaseUrl(url), { poolSize: 1 });
  try {
    const old = await db.rows<{ name: string }>(
      "SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'ipms\\_t\\_%'",
    );
    // only those of runs that ended long ago: another run may be using the server right now
    const minute = Math.floor(Date.now() / 60_000);
    for (const { name } of old) {
      const made = /_([0-9a-z]+)_[0-9a-f]{6}$/.exec(name);
      if (made && minute - parseInt(made[1]!, 36) < 120) continue;
      await db.exec(`DROP DATABASE \`${name}\``);
    }
  } finally {
    await db.end();
  }
  project.provide('adminUrl', url);
}

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
  }
}
