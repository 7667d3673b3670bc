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
          `the embedded database in ${directory} is open in process ${owner}; one process at a time can use it (several processes need PostgreSQL: database: "postgres://…")`,
        );
      }
      if (owner === process.pid) {
        throw new ConsentgateError("invalid_option", `the embedded database in ${directory} is already open in this process; share one gate`);
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
