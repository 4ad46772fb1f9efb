// Freezing a process for a fault step. kill(2) with SIGSTOP returns before
// the process has stopped (as we read it, the kernel wakes one of its
// threads to take the signal, and until that thread has run, the others
// go on): a server's Redis subscriber could still answer a request
// published a millisecond later. So freeze() sends SIGSTOP and then waits
// until every thread of the process shows state T in /proc (Linux).
import { readFileSync, readdirSync } from "node:fs";

// A thread that ended between the listing and the read counts as not yet
// stopped: the next look lists the threads again.
const stopped = (pid) =>
  readdirSync(`/proc/${pid}/task`).every((tid) => {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      return false;
    }
    // The state follows the command name, which is in parentheses.
    const end = stat.lastIndexOf(")");
    return stat[end + 2] === "T";
  });

export async function freeze(pid, withinMs = 5000) {
  process.kill(pid, "SIGSTOP");
  const deadline = Date.now() + withinMs;
  while (!stopped(pid)) {
    if (Date.now() > deadline) {
      throw new Error(`process ${pid} did not stop within ${withinMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
