// The kernel splicer for the tests of the kernel path: a failing test with
// the reason when the machine cannot splice, never a skipped one.
import { KernelSplice } from "../../src/proxy/core/kernel-splice.ts";

export function requireKernelSplice(): KernelSplice {
  const splicer = KernelSplice.shared();
  if (splicer === undefined) {
    throw new Error(
      `kernel splicing is unavailable here (${KernelSplice.unavailableReason}); ` +
        "its tests need Linux, the nexus-kernel-splice addon that npm install builds, and the right to load BPF programs (root)",
    );
  }
  return splicer;
}
