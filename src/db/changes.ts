/**
 * The change feed's SQL (the triggers live in the `change_notify` migration).
 */
import { sql } from 'drizzle-orm';
import type { Database } from './client.js';

/** The channel the change triggers notify on. */
export const CHANGES_CHANNEL = 'chipgate_changes';

/**
 * Sends a fence on the change channel: `{"fence": token}`. Notifications arrive in commit order
 * on every listening connection, so once a listener hears the fence it has heard every change
 * committed before it was sent.
 */
export async function sendChangeFence(db: Database, token: string): Promise<void> {
  await db.execute(sql`select pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify({ fence: token })})`);
}
