/**
 * guestbook/db: entries in SQLite (a file beside the app, created on first start). WAL mode lets the
 * worker processes read while one writes; busy_timeout makes concurrent writers wait, not fail.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Entry {
  readonly id: number;
  readonly name: string;
  readonly message: string;
  readonly created: string;
}

export const LIMITS = { name: 80, message: 2000 } as const;

const here = dirname(fileURLToPath(import.meta.url));
const file = process.env.GUESTBOOK_DB ?? join(here, 'data', 'guestbook.sqlite3');
mkdirSync(dirname(file), { recursive: true });
const db = new Database(file);
// busy_timeout first: the workers start together, and switching to WAL takes a lock.
db.pragma('busy_timeout = 5000');
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  message TEXT NOT NULL,
  created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)`);

const listStmt = db.prepare<[number], Entry>('SELECT id, name, message, created FROM entries ORDER BY id DESC LIMIT ?');
const addStmt = db.prepare<[string, string], Entry>('INSERT INTO entries (name, message) VALUES (?, ?) RETURNING id, name, message, created');

export function listEntries(limit = 50): Entry[] {
  return listStmt.all(limit);
}

export function addEntry(name: string, message: string): Entry {
  return addStmt.get(name, message) as Entry;
}

/** Validation shared by the form and the JSON API: returns messages keyed by field. */
export function validate(name: string, message: string): Record<string, string> {
  const errors: Record<string, string> = {};
  if (name.trim() === '') errors.name = 'Please give your name.';
  else if (name.length > LIMITS.name) errors.name = `At most ${LIMITS.name} characters.`;
  if (message.trim() === '') errors.message = 'Please write a message.';
  else if (message.length > LIMITS.message) errors.message = `At most ${LIMITS.message} characters.`;
  return errors;
}
