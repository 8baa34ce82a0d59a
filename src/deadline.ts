/**
 * One deadline rule for every wait on an outside server (the database, Redis): when the
 * deadline's timer fires, answers that already arrived are read first (the expiry waits for
 * the event loop's poll phase, `setImmediate`), so a process that was busy or descheduled for
 * longer than the deadline does not take the server for slow.
 */

/**
 * Settles as `work` does, unless `ms` milliseconds pass first: then `expired()` is asked for
 * the error to reject with (it may also cancel the work), or undefined to keep waiting for
 * `work` (e.g. the statement has started running). `ms`: a positive number of milliseconds.
 */
export function settleWithin<T>(
  work: Promise<T>,
  ms: number,
  expired: () => Error | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          const error = expired();
          if (error === undefined) return;
          settled = true;
          reject(error);
        }),
      ms,
    );
    work.then(
      (value) => {
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
