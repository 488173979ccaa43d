// SPDX-License-Identifier: MIT
// Fuzz target: numakeepd's configuration parser (daemon/config.hpp).
//
// Beyond "does not crash": a refused text names a line that exists and a
// message "FILE:LINE: reason"; an accepted one keeps every number inside
// its documented range, and each override governs its own cgroup (the
// longest matching prefix of a path is the path itself).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "config.hpp"

using namespace numakeep::daemon;

namespace {

void require(bool ok) {
    if (!ok) std::abort();  // libFuzzer reports the input; the replay test fails
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    ConfigResult r = parse_config(text, "fuzz.conf");
    if (const auto* err = std::get_if<ConfigError>(&r)) {
        auto lines = static_cast<unsigned>(std::count(text.begin(), text.end(), '\n')) + 1;
        require(err->line >= 1 && err->line <= lines);
        require(!err->reason.empty());
        std::string msg = err->message();
        std::string prefix = "fuzz.conf:" + std::to_string(err->line) + ": ";
        require(msg.compare(0, prefix.size(), prefix) == 0);
        return 0;
    }
    const Config& c = std::get<Config>(r);
    require(c.reconcile_ms >= 10 && c.reconcile_ms <= 3'600'000);
    require(c.message_timeout_ms >= 10 && c.rebind_timeout_ms >= 10 && c.show_timeout_ms >= 10);
    require(c.max_connections >= 1 && c.max_connections_per_uid >= 1);
    require(c.max_concurrency >= 1 && c.max_output_kib >= 64);
    require(!c.cgroup_root.empty() && c.cgroup_root.front() == '/');
    for (const auto& o : c.overrides) {
        require(!o.cgroup_prefix.empty() && o.cgroup_prefix.front() == '/');
        require(c.semantics_for(o.cgroup_prefix) == o.semantics);
        (void)c.semantics_for(o.cgroup_prefix + "/child");  // below it: any answer, no crash
    }
    (void)c.semantics_for("/");
    (void)c.semantics_for("");
    return 0;
}
