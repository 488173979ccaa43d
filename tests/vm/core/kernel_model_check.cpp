// Checks numakeep's KernelPolicy model (include/numakeep/rebind.hpp) and the
// zero-window claim against the real kernel: policies mbind()-ed with every
// mode and flag, cpuset.mems written through a sequence, after each write
// get_mempolicy readback vs kernel_readback(model), and where fresh pages
// land vs the model's pol->nodes.
#include <cstdio>
#include <string>
#include <vector>

#include "guest.hpp"
#include "numakeep/issue_plan.hpp"
#include "numakeep/rebind.hpp"

using namespace numakeep;
namespace guest = numakeep::guest;

namespace {
Nodemask L(const char* s) { return *guest::parse_nodes(s); }
constexpr std::size_t kPage = 4096, kPagesPerStep = 64;

struct Case {
    const char* name;
    Request req;  // as issued to the kernel
    std::vector<char>* unused = nullptr;
};
}  // namespace

int main() {
    const char* seq[] = {"0-1", "0-3", "2-3", "0-3", "1", "0-3", "3", "1-2", "0-3", "0,2", "1-3"};
    constexpr int kSteps = sizeof seq / sizeof seq[0];
    const Nodemask m0 = L("0-3");
    const Request plain_il{Mode::Interleave, 0, L("0-3"), -1};
    const Request part_bind{Mode::Bind, 0, L("1,3"), -1};
    std::vector<Case> cases = {
        {"interleave 0-3", plain_il},
        {"bind 0-3", {Mode::Bind, 0, L("0-3"), -1}},
        {"bind 1,3", part_bind},
        {"preferred 3", {Mode::Preferred, 0, L("3"), -1}},
        {"preferred_many 2-3", {Mode::PreferredMany, 0, L("2-3"), -1}},
        {"interleave static:1-2", {Mode::Interleave, kFlagStaticNodes, L("1-2"), -1}},
        {"interleave relative:0-1", {Mode::Interleave, kFlagRelativeNodes, L("0-1"), -1}},
        {"bind relative:2-3", {Mode::Bind, kFlagRelativeNodes, L("2-3"), -1}},
        {"bind static:0,2", {Mode::Bind, kFlagStaticNodes, L("0,2"), -1}},
        {"preferred static:3", {Mode::Preferred, kFlagStaticNodes, L("3"), -1}},
        {"preferred relative:3", {Mode::Preferred, kFlagRelativeNodes, L("3"), -1}},
        {"preferred_many relative:0-1", {Mode::PreferredMany, kFlagRelativeNodes, L("0-1"), -1}},
        {"bind balancing 1,3", {Mode::Bind, kFlagNumaBalancing, L("1,3"), -1}},
        {"bind balancing 0-3", {Mode::Bind, kFlagNumaBalancing, L("0-3"), -1}},
        {"interleave balancing 0-3 (EINVAL)", {Mode::Interleave, kFlagNumaBalancing, L("0-3"), -1}},
        {"bind static:5 (EINVAL)", {Mode::Bind, kFlagStaticNodes, L("5"), -1}},
        {"preferred static:none (EINVAL)", {Mode::Preferred, kFlagStaticNodes, L(""), -1}},
        {"bind static+relative (EINVAL)", {Mode::Bind, kOwnMappingFlags, L("0"), -1}},
    };
    // The zero window: the assisted forms of two plain requests.
    const IssueSettings assist{Semantics::Intent, true};
    const IssuePlan a1 = plan_after_request(Recorded{plain_il, m0}, assist);
    const IssuePlan a2 = plan_after_request(Recorded{part_bind, m0}, assist);
    cases.push_back({"assisted interleave 0-3", {Mode::Interleave, a1.flags, a1.nodes, -1}});
    cases.push_back({"assisted bind 1,3", {Mode::Bind, a2.flags, a2.nodes, -1}});
    const Request assisted_of[2] = {plain_il, part_bind};

    guest::Cgroup cg("nk-model", m0);
    cg.add();
    guest::Report report;
    const std::size_t len = kPage * kPagesPerStep * (kSteps + 1);
    std::vector<std::unique_ptr<guest::Mapping>> maps;
    std::vector<KernelPolicy> model(cases.size());
    std::vector<bool> live(cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
        maps.push_back(std::make_unique<guest::Mapping>(len));
        ::madvise(maps[i]->data(), len, MADV_NOHUGEPAGE);  // one THP would span steps
        const Request& r = cases[i].req;
        long rc = guest::sys_mbind(maps[i]->data(), len, static_cast<int>(r.mode) | r.flags,
                                   r.nodes);
        bool ok = kernel_create(r, m0, model[i]);
        live[i] = rc == 0;
        report.check((rc == 0) == ok, "%s: mbind %s, model %s", cases[i].name,
                     rc == 0 ? "ok" : std::strerror(errno), ok ? "ok" : "EINVAL");
    }
    auto check_step = [&](int step, const Nodemask& mems) {
        for (std::size_t i = 0; i < cases.size(); ++i) {
            if (!live[i]) continue;
            std::string what = std::string(cases[i].name) + " @" + mems.to_string();
            auto got = guest::range_policy(maps[i]->data());
            Rebound want = kernel_readback(model[i], 4);
            report.check(got && got->mode == model[i].mode &&
                             got->flags == (model[i].flags & kModeFlagsMask) &&
                             got->nodes == want.nodes,
                         "%s: readback %s, model %s flags %x", what.c_str(),
                         got ? guest::to_string(*got).c_str() : "?", want.nodes.to_string().c_str(),
                         want.flags);
            // Fresh pages for this step: where they land is pol->nodes.
            char* base = static_cast<char*>(maps[i]->data()) +
                         static_cast<std::size_t>(step) * kPage * kPagesPerStep;
            for (std::size_t p = 0; p < kPagesPerStep; ++p) base[p * kPage] = 1;
            auto pages = guest::pages_per_node(base, kPage * kPagesPerStep);
            Nodemask used;
            if (pages)
                for (unsigned n = 0; n < pages->per_node.size(); ++n)
                    if (pages->per_node[n]) used.set(n);
            const KernelPolicy& pol = model[i];
            bool placed;
            const char* rule;
            if (pol.mode == Mode::Interleave) {
                placed = used == pol.nodes;
                rule = "== nodes";
            } else if (pol.mode == Mode::Bind) {
                placed = used.subset_of(pol.nodes) && !used.empty();
                rule = "within nodes";
            } else if ((pol.nodes & mems).empty()) {
                placed = used.subset_of(mems) && !used.empty();
                rule = "within mems (preferred not allowed)";
            } else {
                placed = used.subset_of(pol.nodes & mems) && !used.empty();
                rule = "within nodes&mems";
            }
            report.check(placed, "%s: pages on %s, model nodes %s (%s)", what.c_str(),
                         used.to_string().c_str(), pol.nodes.to_string().c_str(), rule);
            if (i + 2 >= cases.size()) {  // the assisted ones: the intent, no re-issue
                const Request& orig = assisted_of[i + 2 - cases.size()];
                report.expect_nodes(what + ": kernel keeps intent", pol.nodes,
                                    rebind_nodes(orig, m0, mems, Semantics::Intent).nodes);
            }
        }
    };
    check_step(0, m0);
    for (int s = 0; s < kSteps; ++s) {
        Nodemask mems = L(seq[s]);
        cg.set_mems(mems);
        for (auto& pol : model) kernel_rebind(pol, mems);
        check_step(s + 1, mems);
    }
    return report.finish();
}
