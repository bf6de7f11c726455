// The page of tests/browser/compat.test.mjs: the real @fireproof/core 0.24.19 (bundled) and the
// built ferroproof package (/pkg/index.js, loaded at run time) side by side, as `window.libs`.
// The test runs the same calls against both and compares what they return.
import { fireproof } from "@fireproof/core";

const pkg = "/pkg/index.js";
const ferroproof = (await import(/* @vite-ignore */ pkg)) as { fireproof: unknown };

(window as unknown as { libs: unknown; compatReady: boolean }).libs = {
  fireproof: { fireproof },
  ferroproof: { fireproof: ferroproof.fireproof },
};
(window as unknown as { compatReady: boolean }).compatReady = true;
