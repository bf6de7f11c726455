// The page of tests/browser/compat.test.mjs: the real @fireproof/core 0.24.19 (bundled) and the
// built ferroproof package (/pkg/index.js, loaded at run time) side by side, as `window.libs`
// (the two module namespaces).
// The test runs the same calls against both and compares what they return.
import * as fireproof from "@fireproof/core";

const pkg = "/pkg/index.js";
const ferroproof: unknown = await import(/* @vite-ignore */ pkg);

// each library's module namespace: fireproof(), index(), isDatabase(), NotFoundError, …
(window as unknown as { libs: unknown }).libs = { fireproof, ferroproof };
(window as unknown as { compatReady: boolean }).compatReady = true;
