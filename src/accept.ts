/**
 * Whether a request asks for an event stream (`Accept: text/event-stream`): a subscription over
 * SSE, or a query with `@defer`/`@stream` (each payload an event), served by `src/live/sse.ts`. A leaf below both, so the response-size plugin can tell such requests
 * apart without loading the transport.
 */
export function acceptsEventStream(request: Request): boolean {
  return (request.headers.get('accept') ?? '').toLowerCase().includes('text/event-stream');
}
