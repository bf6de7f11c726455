// Builds the Fireproof writer page (@fireproof/core 0.24.19 bundled for the browser) into
// target/migrate-test; tests/browser/migrate.test.mjs drives it, then migrates in the same origin.
import { fireproofPage } from "../fireproof-vite.ts";

export default fireproofPage(import.meta.url, "migrate-test");
