/** URLs for creating and dropping per-test databases on the server `DATABASE_URL` names. */

/** The same server, connected to its `postgres` maintenance database. */
export function adminUrl(databaseUrl: string): string {
  return databaseUrlFor(databaseUrl, 'postgres');
}

/** The same server and credentials, another database. */
export function databaseUrlFor(databaseUrl: string, database: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
