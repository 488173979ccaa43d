// SPDX-License-Identifier: MIT
// numakeep-demo: the guest side of tools/demo.
//
//   numakeep-demo [--kernel-only]   the driver (root, in the 4-node guest)
//   numakeep-demo workload          one workload copy (started by the driver)
#include <cstdio>
#include <cstring>

#include "driver.hpp"
#include "workload.hpp"

int main(int argc, char** argv) {
    numakeep::demo::DemoOptions options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "workload") == 0 && argc == 2)
            return numakeep::demo::run_workload();
        if (std::strcmp(argv[i], "--kernel-only") == 0) {
            options.kernel_only = true;
            continue;
        }
        std::fprintf(stderr,
                     "numakeep-demo: unknown argument '%s'\n"
                     "usage: numakeep-demo [--kernel-only]   (in the guest; see tools/demo)\n",
                     argv[i]);
        return 2;
    }
    return numakeep::demo::run_demo(options);
}
