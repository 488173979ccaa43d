// SPDX-License-Identifier: MIT
// numakeepd's event loop with many clients at once: a private daemon on a
// temporary socket (its cgroup_root an empty temporary directory: no host
// cgroup is read or written), agent processes that connect, are re-bound
// and answer record dumps, CLI threads that list, show and ask for the
// status without pause, and SIGHUP reloads in between. Every query is
// answered in full, the daemon stays up, and its log carries no sanitizer
// report (under ThreadSanitizer in suite `concurrency`, tools/test-sanitizers).
//
// The daemon binary comes from the NUMAKEEPD environment variable (meson
// sets it).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "numakeep/mpol.hpp"
#include "wire_client.hpp"

using namespace numakeep;
using namespace numakeep::proto;
using numakeep::testing::WireClient;

namespace {

constexpr int kAgents = 6;
constexpr int kCliThreads = 6;
constexpr int kQueriesPerThread = 60;

int g_failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    std::fflush(stdout);
    if (!ok) ++g_failures;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// An agent process: Hello with records, then answers whatever comes until
// the daemon or the parent goes away. Exit 0 when it was welcomed and
// answered everything it was sent.
[[noreturn]] void agent_process(const std::string& socket) {
    WireClient a(socket);
    if (!a.connected()) ::_exit(10);
    Hello h;
    h.pid = ::getpid();
    h.start_time = testing::self_start_time();
    h.ranges = 2;
    h.threads = 1;
    h.mems = Nodemask{0};
    if (!a.send(MsgType::Hello, h) || !a.recv_type(MsgType::Welcome)) ::_exit(11);
    for (;;) {
        auto f = a.recv(20000);
        if (!f) ::_exit(a.eof() ? 0 : 12);
        if (f->type() == MsgType::Rebind) {
            RebindDone done;
            done.generation = f->as<Rebind>().generation;
            done.ranges_rebound = 2;
            done.threads_rebound = 1;
            if (!a.send(MsgType::RebindDone, done, f->header.seq)) ::_exit(13);
        } else if (f->type() == MsgType::DumpRecords) {
            std::uint32_t id = f->as<DumpRecords>().request_id;
            PolicyEntry range;
            range.request_id = id;
            range.start = 0x10000;
            range.end = 0x30000;
            range.mode = mpol::kBind;
            range.requested = Nodemask{0};
            RecordsEnd end;
            end.request_id = id;
            end.ranges = 1;
            if (!a.send(MsgType::RangeEntry, range, f->header.seq) ||
                !a.send(MsgType::RecordsEnd, end, f->header.seq))
                ::_exit(14);
        }
    }
}

// One CLI thread: list, status and show (of an agent) in turn; counts the
// answers that were not complete and well formed.
void cli_thread(const std::string& socket, const std::vector<pid_t>& agents, int id,
                std::atomic<int>& bad, std::atomic<int>& shows_complete) {
    for (int q = 0; q < kQueriesPerThread; ++q) {
        WireClient cli(socket);
        if (!cli.connected()) {
            // Over the per-uid cap for a moment: try again.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            if (!cli.connect(socket)) {
                bad.fetch_add(1);
                continue;
            }
        }
        std::uint32_t seq = static_cast<std::uint32_t>(q + 1);
        switch ((q + id) % 3) {
            case 0: {
                cli.send(MsgType::QueryList, Empty{}, seq);
                auto end = cli.recv_type(MsgType::ListEnd, 5000);
                if (!end || end->header.seq != seq) bad.fetch_add(1);
                break;
            }
            case 1: {
                cli.send(MsgType::QueryStatus, Empty{}, seq);
                auto st = cli.recv_type(MsgType::StatusReply, 5000);
                if (!st || st->header.seq != seq) bad.fetch_add(1);
                break;
            }
            default: {
                QueryShow s;
                s.pid = agents[static_cast<std::size_t>(q) % agents.size()];
                cli.send(MsgType::QueryShow, s, seq);
                // ShowEnd, or Error when two shows of one agent overlap
                // past the show timeout: both are complete answers.
                for (;;) {
                    auto f = cli.recv(5000);
                    if (!f) {
                        bad.fetch_add(1);
                        break;
                    }
                    if (f->type() == MsgType::ShowEnd) {
                        shows_complete.fetch_add(1);
                        break;
                    }
                    if (f->type() == MsgType::Error) break;
                }
                break;
            }
        }
    }
}

}  // namespace

int main() {
    const char* bin = std::getenv("NUMAKEEPD");
    if (!bin) {
        std::printf("set NUMAKEEPD to the numakeepd binary\n");
        return 1;
    }
    char tmpl[] = "/tmp/numakeep-conc-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string socket = dir + "/run/numakeepd.sock";
    std::string config = dir + "/numakeepd.conf";
    std::string log = dir + "/numakeepd.log";
    ::mkdir((dir + "/cgroup").c_str(), 0755);
    std::ofstream(config) << "cgroup_root = " << dir << "/cgroup\n"
                          << "max_connections_per_uid = 64\n"
                          << "show_timeout_ms = 2000\n"
                          << "reconcile_ms = 100\n";
    pid_t daemon = ::fork();
    if (daemon == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ::dup2(fd, 2);
        ::execl(bin, bin, "--config", config.c_str(), "--socket", socket.c_str(), "--foreground",
                "--log-level", "info", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    for (int i = 0; i < 1000 && ::access(socket.c_str(), F_OK) != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    check(::access(socket.c_str(), F_OK) == 0, "the daemon created its socket");

    std::vector<pid_t> agents;
    for (int i = 0; i < kAgents; ++i) {
        pid_t c = ::fork();
        if (c == 0) agent_process(socket);
        agents.push_back(c);
    }
    std::atomic<int> bad{0}, shows{0};
    std::vector<std::thread> clis;
    for (int i = 0; i < kCliThreads; ++i)
        clis.emplace_back(cli_thread, std::cref(socket), std::cref(agents), i, std::ref(bad),
                          std::ref(shows));
    for (int i = 0; i < 3; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ::kill(daemon, SIGHUP);  // reload between the queries
    }
    for (auto& t : clis) t.join();
    check(bad.load() == 0, "every query was answered in full");
    std::printf("  %d shows relayed from the agents\n", shows.load());
    check(shows.load() > 0, "shows were relayed from the agents");
    check(::kill(daemon, 0) == 0, "the daemon is still up");

    ::kill(daemon, SIGTERM);
    int status = 0;
    ::waitpid(daemon, &status, 0);
    check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the daemon exited 0 on SIGTERM");
    int agents_ok = 0;
    for (pid_t a : agents) {
        int st = 0;
        if (::waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 0) ++agents_ok;
    }
    check(agents_ok == kAgents, "every agent was answered and saw the daemon go");
    std::string text = read_all(log);
    check(text.find("Sanitizer") == std::string::npos, "no sanitizer report in the daemon's log");
    if (g_failures) std::printf("--- daemon log ---\n%s", text.c_str());
    std::string rm = "rm -rf " + dir;
    if (std::system(rm.c_str()) != 0) std::printf("could not remove %s\n", dir.c_str());
    std::printf("%s\n", g_failures ? "FAILED" : "OK");
    return g_failures ? 1 : 0;
}
