// SPDX-License-Identifier: MIT
// Compiled with -fno-exceptions -fno-rtti, as the preload is: the core
// headers must build that way. Nothing here runs.
#include "numakeep/node_mapping.hpp"
#include "numakeep/nodelist.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/placement.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/rebind.hpp"
#include "numakeep/task_record.hpp"

namespace numakeep {
// Referenced so that the inline bodies are instantiated and compiled.
ParseResult core_headers_noexcept_probe(std::string_view text, const Nodemask& allowed) {
    ParseResult r = parse_nodelist(text, allowed);
    TaskRecord t = record_task_request(Request{}, Rebound{}, allowed, 1);
    (void)task_reissue(t, allowed, 2, Semantics::Intent);
    (void)rebind_nodes(Request{}, allowed, r.nodes, Semantics::Intent);
    return r.ok ? r : parse_kernel_nodelist(text);
}
}  // namespace numakeep
