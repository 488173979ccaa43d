// SPDX-License-Identifier: MIT
// The demo driver: runs in the 4-node guest as root.
#pragma once

namespace numakeep::demo {

struct DemoOptions {
    bool kernel_only = false;  // do not start numakeepd even when it is there
};

// Creates the cgroup, starts the workload copies (and numakeepd), walks the
// cpuset.mems sequence printing a row per step, then the check line and the
// page split. Returns 0 when numakeep matched the rule at every step (or in
// kernel-only mode when the demo ran), 1 otherwise.
int run_demo(const DemoOptions& options);

}  // namespace numakeep::demo
