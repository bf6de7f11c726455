// Helpers shared by the browser tests.
export async function openPage(context, harness) {
  const page = await context.newPage();
  await page.goto(harness);
  await page.waitForFunction(() => window.harnessReady === true);
  return page;
}

/**
 * Starts the real sync server (target/debug/ferroproof-server, built by `cargo test -p
 * ferroproof-server`) on 127.0.0.1 with a folder store. `port` reuses a port (a restart);
 * `open: false` runs it with authorization (no `--open`, docs/auth.md §7).
 * Resolves to { url, store, port, pause(), resume(), stop() }.
 */
export async function startServer({ store, port = 0, open = true } = {}) {
  const { spawn } = await import("node:child_process");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = store ?? mkdtempSync(join(tmpdir(), "fp-store-"));
  const bin = process.env.FERROPROOF_SERVER_BIN ?? "target/debug/ferroproof-server";
  const args = ["--listen", `127.0.0.1:${port}`, "--store", dir, ...(open ? ["--open"] : [])];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`ferroproof-server exited with ${code}`)));
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
  });
  child.removeAllListeners("exit");
  return {
    url,
    store: dir,
    port: Number(new URL(url).port),
    /** Freezes the process (SIGSTOP: connections stay open, nothing answers) or thaws it. */
    pause: () => child.kill("SIGSTOP"),
    resume: () => child.kill("SIGCONT"),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
