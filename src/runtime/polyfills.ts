/**
 * What Node 20 lacks of what the server uses from newer JavaScript (Bun and
 * Node ≥ 22 have it all): Promise.withResolvers. Imported first by
 * src/main.ts; a no-op where the runtime has it.
 */
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
