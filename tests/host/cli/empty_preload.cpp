// SPDX-License-Identifier: MIT
// An empty shared library: what the CLI host tests put on LD_PRELOAD in
// place of libnumakeep.so, so `numakeep run` can be tested without the
// runtime and without ld.so complaining about a missing file.
extern "C" int numakeep_cli_test_empty_preload() {
    return 0;
}
