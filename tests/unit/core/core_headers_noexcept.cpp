// SPDX-License-Identifier: MIT
// Compiled with -fno-exceptions -fno-rtti, as the preload is: the core
// headers must build that way. Nothing here runs.
#include "numakeep/exec_handoff.hpp"
#include "numakeep/issue_plan.hpp"
#include "numakeep/mpol.hpp"
#include "numakeep/node_mapping.hpp"
#include "numakeep/nodelist.hpp"
#include "numakeep/nodemask.hpp"
#include "numakeep/placement.hpp"
#include "numakeep/policy.hpp"
#include "numakeep/proc_stat.hpp"
#include "numakeep/rebind.hpp"

namespace numakeep {
// Referenced so that the inline bodies are instantiated and compiled.
ParseResult core_headers_noexcept_probe(std::string_view text, const Nodemask& allowed) {
    ParseResult r = parse_nodelist(text, allowed);
    const Recorded rec{Request{}, allowed};
    (void)plan_issue(rec, r.nodes, IssueSettings{});
    (void)plan_before_exec(rec, r.nodes, Semantics::Intent);
    (void)assisted_as_plain(rec, 0, r.nodes, allowed);
    (void)rebind_nodes(Request{}, allowed, r.nodes, Semantics::Intent);
    (void)stat_start_time(text);
    return r.ok ? r : parse_kernel_nodelist(text);
}
}  // namespace numakeep
