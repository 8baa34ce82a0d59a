/**
 * GraphiQL's files as the gateway serves them: a small HTML shell plus the files
 * `@graphql-yoga/render-graphiql` ships built (its script, its stylesheet, Monaco's three worker
 * scripts and its favicon), each under a path that carries a hash of its bytes
 * (`/graphiql/graphiql.<hash>.js`), so a browser may keep them forever and a new version gets
 * new paths. Nothing is bundled here and nothing comes from a CDN: the strings the package
 * exports are the files, byte for byte (the favicon decoded from its `data:` URL).
 *
 * Each file is compressed once per encoding (`br`, `gzip`) on libuv's thread pool, never on the
 * event loop: brotli for every file as soon as the set is built (browsers ask for `br`: the
 * page's files first, Monaco's workers after GraphiQL's script), gzip when first asked for. A
 * request waits for its encoding's copy (about 0.4 s for the script, once per process).
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { brotliCompress, gzip, constants as zlib } from 'node:zlib';
import { negotiate } from '@fastify/accept-negotiator';
import type { GraphiQLOptions } from 'graphql-yoga';

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * The compressed encodings served, the preferred first. Measured on GraphiQL's 5.3 MB script
 * (one core of a loaded 2-core machine): brotli quality 5 gives 1.29 MB in about 0.4 s, quality
 * 9 saves 4 % more in 3x the time; gzip at zlib's default level (6) gives 1.45 MB in about
 * 0.2 s, level 9 saves under 1 %.
 */
const COMPRESSORS = {
  br: (bytes: Uint8Array) =>
    brotliAsync(bytes, {
      params: {
        [zlib.BROTLI_PARAM_QUALITY]: 5,
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }),
  gzip: (bytes: Uint8Array) => gzipAsync(bytes),
} satisfies Record<string, (bytes: Uint8Array) => Promise<Buffer>>;

/** A `Content-Encoding` a file is sent in; `identity` is the file as shipped. */
export type Encoding = keyof typeof COMPRESSORS | 'identity';

/** Every encoding, in order of preference when the client accepts several equally. */
const ENCODINGS = [...(Object.keys(COMPRESSORS) as Encoding[]), 'identity'] as Encoding[];

/**
 * The encoding to send for an `Accept-Encoding` header: the best one it accepts, `identity`
 * when it names none of ours (or there is no header).
 */
export function encodingFor(acceptEncoding: string | null): Encoding {
  return negotiate(acceptEncoding ?? '', ENCODINGS) ?? 'identity';
}

/** A response body's bytes. */
export type Body = Uint8Array<ArrayBuffer>;

/**
 * The bytes of a Buffer as a response body, without a copy: a Buffer this large (or from zlib)
 * has an ArrayBuffer of its own, never shared memory.
 */
function asBody(buffer: Buffer): Body {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength);
}

/** One file as served (the shell or an asset). */
export interface GraphiQLFile {
  /** The URL path it is served at, e.g. `/graphiql/graphiql.Xz3…q.js`. */
  path: string;
  /** Its `Content-Type`. */
  contentType: string;
  /**
   * Its strong validator in an encoding: the hash of its bytes as shipped (base64url), with
   * the encoding appended for a compressed copy (`"<hash>.br"`), quoted.
   */
  etag(encoding: Encoding): string;
  /**
   * Its bytes in `encoding`, compressed on the thread pool when first asked for and kept (a
   * failure is not kept: the next request tries again).
   */
  body(encoding: Encoding): Promise<Body>;
}

/** The strings `@graphql-yoga/render-graphiql/graphiql` exports, as UTF-8 bytes. */
interface ShippedFiles {
  js: Uint8Array;
  css: Uint8Array;
  editorWorkerService: Uint8Array;
  jsonWorker: Uint8Array;
  graphqlWorker: Uint8Array;
  /** A `data:` URL. */
  favicon: Uint8Array;
}

/**
 * Loads the package in a worker thread (plain CommonJS, so it runs the same under tsx, vitest
 * and the compiled build) and hands each string over as UTF-8 bytes, transferred, not copied:
 * parsing its 9 MB of JavaScript (0.1 s on an idle core, up to 0.6 s on a loaded one) never
 * holds up the event loop.
 */
function loadShippedFiles(): Promise<ShippedFiles> {
  const file = createRequire(import.meta.url).resolve('@graphql-yoga/render-graphiql/graphiql');
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const shipped = require(workerData);
    const encoder = new TextEncoder();
    const files = {};
    for (const name of ['js', 'css', 'editorWorkerService', 'jsonWorker', 'graphqlWorker', 'favicon']) {
      files[name] = encoder.encode(shipped[name]);
    }
    parentPort.postMessage(files, Object.values(files).map((bytes) => bytes.buffer));
  `;
  return new Promise((resolve, reject) => {
    // No flags of ours (`--import tsx`, `--input-type=module`): the source is plain CommonJS.
    const worker = new Worker(source, { eval: true, workerData: file, execArgv: [] });
    worker.once('message', (files: ShippedFiles) => resolve(files));
    worker.once('error', reject);
    worker.once('exit', (code) =>
      reject(new Error(`the GraphiQL loader thread exited (code ${code}) without its files`)),
    );
  });
}

/** The first 22 characters (132 bits) of the base64url SHA-256 of `bytes`. */
function hashOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

/** A file whose path is `pathOf(hash)`, `hash` being that of its bytes. */
function fileOf(
  bytes: Uint8Array,
  contentType: string,
  pathOf: (hash: string) => string,
): GraphiQLFile {
  const hash = hashOf(bytes);
  const identity = bytes as Body;
  const compressed = new Map<Encoding, Promise<Body>>();
  return {
    path: pathOf(hash),
    contentType,
    etag: (encoding) => (encoding === 'identity' ? `"${hash}"` : `"${hash}.${encoding}"`),
    body(encoding) {
      if (encoding === 'identity') return Promise.resolve(identity);
      let body = compressed.get(encoding);
      if (!body) {
        body = COMPRESSORS[encoding](identity).then(asBody);
        compressed.set(encoding, body);
        body.catch(() => compressed.delete(encoding));
      }
      return body;
    },
  };
}

/** The bytes of a `data:` URL and its media type; undefined for anything else. */
function dataUrlBytes(url: string): { bytes: Uint8Array; type: string } | undefined {
  const match = /^data:([\w.+-]+\/[\w.+-]+)(;base64)?,(.*)$/s.exec(url);
  if (!match?.[1] || match[3] === undefined) return undefined;
  const bytes = match[2]
    ? Buffer.from(match[3], 'base64')
    : Buffer.from(decodeURIComponent(match[3]), 'utf8');
  return { bytes, type: match[1] };
}

/** `text` with `&`, `<`, `>` and `"` as HTML character references. */
function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string,
  );
}

/** JSON safe inside a `<script>` element: no `<` (so no `</script>`), no U+2028/9. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The file name extension of an icon's media type. */
const ICON_EXTENSIONS: Record<string, string> = {
  'image/x-icon': 'ico',
  'image/vnd.microsoft.icon': 'ico',
  'image/png': 'png',
  'image/svg+xml': 'svg',
};

/** GraphiQL's shell and assets (see the module comment). */
export interface GraphiQLFiles {
  /** The HTML page (`text/html`), served at the GraphQL endpoint to browsers; revalidated. */
  shell: GraphiQLFile;
  /** The hashed, immutable assets by URL path. */
  assets: ReadonlyMap<string, GraphiQLFile>;
}

/**
 * Builds the shell and the assets for `options` (title, default query, ...) from
 * `@graphql-yoga/render-graphiql`'s built files, asset paths under `prefix` (e.g.
 * `/graphiql/`), and starts compressing every asset with brotli. The package is loaded off the
 * event loop (`loadShippedFiles`).
 */
export async function buildGraphiQLFiles(
  options: GraphiQLOptions,
  prefix: string,
): Promise<GraphiQLFiles> {
  const shipped = await loadShippedFiles();
  const assets = new Map<string, GraphiQLFile>();
  const add = (name: string, extension: string, contentType: string, bytes: Uint8Array) => {
    const file = fileOf(bytes, contentType, (hash) => `${prefix}${name}.${hash}.${extension}`);
    assets.set(file.path, file);
    return file.path;
  };
  const javascript = 'text/javascript; charset=utf-8';
  const js = add('graphiql', 'js', javascript, shipped.js);
  const css = add('graphiql', 'css', 'text/css; charset=utf-8', shipped.css);
  const workers = {
    editorWorkerService: add('editor-worker', 'js', javascript, shipped.editorWorkerService),
    json: add('json-worker', 'js', javascript, shipped.jsonWorker),
    graphql: add('graphql-worker', 'js', javascript, shipped.graphqlWorker),
  };
  // A favicon of the options' own is linked as given; the package's is served as a file.
  const shippedIcon = Buffer.from(shipped.favicon).toString('utf8');
  const icon = options.favicon ? undefined : dataUrlBytes(shippedIcon);
  const favicon = icon
    ? add('favicon', ICON_EXTENSIONS[icon.type] ?? 'bin', icon.type, icon.bytes)
    : (options.favicon ?? shippedIcon);
  // What the package's own page runs inline, as a file: Monaco's workers from same-origin
  // URLs (a worker may start from one), then GraphiQL with the options the shell carries.
  const start = add(
    'start',
    'js',
    javascript,
    Buffer.from(
      `(function () {
  var workers = ${JSON.stringify(workers)};
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (moduleId, label) { return workers[label]; },
  };
  var options = JSON.parse(document.getElementById('graphiql-options').textContent);
  YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
})();
`,
    ),
  );
  // Deferred scripts are fetched at once and run in order once the document is parsed.
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${escapeHtml(favicon)}" />
    <link rel="stylesheet" href="${css}" />
    <script defer src="${js}"></script>
    <script defer src="${start}"></script>
    <script type="application/json" id="graphiql-options">${scriptJson(options)}</script>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
  </body>
</html>
`;
  const shell = fileOf(Buffer.from(html), 'text/html; charset=utf-8', () => '');
  // The page's own files first; Monaco's workers (asked for about a second later, once the
  // script has run) after the script, so that they do not share the thread pool with it.
  const page = new Set([js, css, start, favicon]);
  const compress = (file: GraphiQLFile) => file.body('br').catch(() => {});
  const script = assets.get(js) as GraphiQLFile;
  for (const file of assets.values()) if (page.has(file.path)) compress(file);
  void compress(script).then(() => {
    for (const file of assets.values()) if (!page.has(file.path)) compress(file);
  });
  return { shell, assets };
}
