/**
 * Where the committed drizzle-kit migrations are (`drizzle/` at the package root, from src/ and
 * from dist/ alike). Its own module so that light modules (the template's key) need not load
 * drizzle's migrators.
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of the committed migrations folder. */
export const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
