/**
 * PGlite is one process's database: two processes opening the same folder
 * would corrupt it. A lock file holding the owner's pid keeps a second
 * process out with a clear error; a lock left by a process that died is
 * taken over.
 */
import { open, readFile, rm } from "node:fs/promises";
import { ConsentgateError } from "../errors.ts";

export interface DirectoryLock {
  release(): Promise<void>;
}

export async function lockDirectory(directory: string): Promise<DirectoryLock> {
  const file = `${directory}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new ConsentgateError(
          "invalid_option",
          // What a person who hit this can change: the other process, or where each process's database is
          // (DATABASE_URL for an app configured from the environment, as the example is; --database for the CLI).
          `the embedded database in ${directory} is open in process ${owner}, and one process at a time can use it: ` +
            "stop that process, or give every process the same PostgreSQL database (DATABASE_URL=postgres://…, or --database postgres://… for the CLI)",
        );
      }
      if (owner === process.pid) {
        throw new ConsentgateError(
          "invalid_option",
          `the embedded database in ${directory} is already open in this process; share one gate`,
        );
      }
      // The owner is gone: its lock is stale.
      await rm(file, { force: true });
    }
  }
  throw new ConsentgateError("invalid_option", `cannot lock the embedded database in ${directory}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
