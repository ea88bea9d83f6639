/**
 * Schema files are append-only once they have landed: knex runs each file once, by its name,
 * so a later change to one never reaches a database that already applied it (an upgrade
 * review found three such changes: PrefixLength lacked its netmasks on those databases, and
 * every threshold crossing failed). The committed list holds each landed file's SHA-256 (of
 * its text without comment lines, so comments may still be corrected); a change goes into a
 * new file. New files are added to the list with UPDATE_SNAPSHOT=1.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../../lib/migrate.ts';
import { stripComments } from '../../lib/sql-split.ts';

const LIST = fileURLToPath(new URL('../fixtures/schema-files.sha256', import.meta.url));

const hash = (text: string) => createHash('sha256').update(stripComments(text)).digest('hex');

describe('schema files', () => {
  it('are append-only: a landed file never changes, a new one sorts after every landed one', () => {
    const files = schemaFiles();
    const listed = existsSync(LIST)
      ? readFileSync(LIST, 'utf8').split('\n').filter(Boolean).map((l) => {
        const [sha, name] = l.split(/\s+/);
        return { name: name!, sha: sha! };
      })
      : [];
    const byName = new Map(files.map((f) => [f.name, hash(f.text)]));
    for (const l of listed) {
      expect(byName.has(l.name), `schema/${l.name}.sql has landed and may not be deleted (list it in RETIRED_SCHEMA_FILES if it must go)`).toBe(true);
      expect(byName.get(l.name), `schema/${l.name}.sql has landed: databases that applied it would never see this change; put it in a new schema file`).toBe(l.sha);
    }
    const last = listed.map((l) => l.name).sort().pop() ?? '';
    const added = files.filter((f) => !listed.some((l) => l.name === f.name));
    for (const f of added) expect(f.name > last, `new schema file ${f.name} must sort after ${last}`).toBe(true);
    if (added.length && process.env.UPDATE_SNAPSHOT) {
      writeFileSync(LIST, [...listed, ...added.map((f) => ({ name: f.name, sha: byName.get(f.name)! }))]
        .map((l) => `${l.sha}  ${l.name}\n`).join(''));
    } else {
      expect(added.map((f) => f.name), 'new schema files: add them to test/fixtures/schema-files.sha256 with UPDATE_SNAPSHOT=1').toEqual([]);
    }
  });
});
