// Builds the compatibility page (@fireproof/core 0.24.19 bundled for the browser) into
// target/compat-test; tests/browser/compat.test.mjs drives it. ferroproof is not bundled: the page
// imports the built package (/pkg/index.js) at run time, so a rebuilt package needs no new bundle.
import { fireproofPage } from "../fireproof-vite.ts";

export default fireproofPage(import.meta.url, "compat-test");
