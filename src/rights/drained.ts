/**
 * Streams that wait for a slow reader instead of buffering for it: resolves
 * when the response can take more, or when the client has gone (the caller
 * checks which).
 */
import type { Writable } from "node:stream";

export function drained(res: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
