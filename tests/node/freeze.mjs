// Freezing a process for a fault step. kill(2) with SIGSTOP returns before
// the process has stopped: the kernel wakes one of its threads to take the
// signal, and until that thread has run, the others go on (a server's
// Redis subscriber could still answer a request published a millisecond
// later). So freeze() sends SIGSTOP and then waits until every thread of
// the process shows state T in /proc (Linux).
import { readFileSync, readdirSync } from "node:fs";

const stopped = (pid) => {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.every((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    // The state follows the command name, which is in parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "T";
  });
};

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
