// Helpers shared by the browser tests.
export async function openPage(context, harness) {
  const page = await context.newPage();
  await page.goto(harness);
  await page.waitForFunction(() => window.harnessReady === true);
  return page;
}
