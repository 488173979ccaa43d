// SPDX-License-Identifier: MIT
// numakeepd on the host: a private daemon on a temporary socket, no cgroup
// writes (its cgroup_root points at an empty temporary directory, so it
// never even watches the host's hierarchy). Clients speak the wire format
// from include/numakeep/protocol.hpp as an agent and as the CLI.
//
// The daemon binary comes from the NUMAKEEPD environment variable (meson
// sets it).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "wire_client.hpp"

using namespace numakeep;
using namespace numakeep::proto;
using numakeep::testing::Frame;
using numakeep::testing::WireClient;

namespace {

std::string read_all(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}

// One private daemon for the whole test program.
class PrivateDaemon {
  public:
    PrivateDaemon() {
        char tmpl[] = "/tmp/numakeepd-host-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        ::chmod(dir_.c_str(), 0755);  // the test's "nobody" child must reach the socket
        socket_ = dir_ + "/run/numakeepd.sock";
        config_ = dir_ + "/numakeepd.conf";
        log_ = dir_ + "/numakeepd.log";
        ::mkdir((dir_ + "/cgroup").c_str(), 0755);
        write_config("");
        const char* bin = std::getenv("NUMAKEEPD");
        REQUIRE_MESSAGE(bin, "set NUMAKEEPD to the numakeepd binary");
        pid_ = ::fork();
        if (pid_ == 0) {
            int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            ::dup2(fd, 2);
            ::execl(bin, bin, "--config", config_.c_str(), "--socket", socket_.c_str(),
                    "--foreground", "--log-level", "debug", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 500 && ::access(socket_.c_str(), F_OK) != 0; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        REQUIRE_MESSAGE(::access(socket_.c_str(), F_OK) == 0, "daemon did not create ", socket_,
                        "\n", log());
    }
    ~PrivateDaemon() {
        ::kill(pid_, SIGTERM);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        if (std::getenv("KEEP_TMP")) return;
        std::string cmd = "rm -rf " + dir_;
        if (std::system(cmd.c_str()) != 0)
            std::fprintf(stderr, "could not remove %s\n", dir_.c_str());
    }
    void write_config(const std::string& extra) {
        std::ofstream out(config_);
        out << "cgroup_root = " << dir_ << "/cgroup\n"
            << "message_timeout_ms = 300\n"
            << "max_connections_per_uid = 24\n"
            << "show_timeout_ms = 500\n"
            << extra;
    }
    const std::string& socket() const { return socket_; }
    std::string log() const { return read_all(log_); }
    pid_t pid() const { return pid_; }
    bool alive() const { return ::kill(pid_, 0) == 0; }

  private:
    std::string dir_, socket_, config_, log_;
    pid_t pid_ = -1;
};

PrivateDaemon& daemon_under_test() {
    static PrivateDaemon d;
    return d;
}

Hello hello_for_self(std::uint32_t ranges = 0) {
    Hello h;
    h.pid = ::getpid();
    h.start_time = testing::self_start_time();
    h.ranges = ranges;
    h.mems = Nodemask{0};
    return h;
}

// An agent connection of this process that has been welcomed.
WireClient registered_agent(std::uint32_t ranges = 0) {
    WireClient a(daemon_under_test().socket());
    REQUIRE(a.connected());
    REQUIRE(a.send(MsgType::Hello, hello_for_self(ranges)));
    auto w = a.recv_type(MsgType::Welcome);
    REQUIRE(w);
    return a;
}

std::vector<ProcEntry> query_list(WireClient& cli, std::uint32_t* count = nullptr) {
    std::vector<ProcEntry> out;
    REQUIRE(cli.send(MsgType::QueryList, Empty{}, 7));
    for (;;) {
        auto f = cli.recv();
        REQUIRE(f);
        CHECK(f->header.seq == 7);
        if (f->type() == MsgType::ListEnd) {
            if (count) *count = f->as<ListEnd>().count;
            return out;
        }
        REQUIRE(f->type() == MsgType::ProcEntry);
        out.push_back(f->as<ProcEntry>());
    }
}

}  // namespace

TEST_CASE("an agent says Hello and is welcomed") {
    auto& d = daemon_under_test();
    WireClient a(d.socket());
    REQUIRE(a.connected());
    REQUIRE(a.send(MsgType::Hello, hello_for_self()));
    auto w = a.recv();
    REQUIRE(w);
    CHECK(w->type() == MsgType::Welcome);
    CHECK(w->as<Welcome>().daemon_pid == static_cast<std::uint32_t>(d.pid()));
    CHECK(w->as<Welcome>().default_semantics == 0);  // intent
    // Nothing recorded and the mems it already has: no rebind follows.
    CHECK_FALSE(a.recv(300));
    CHECK(d.log().find("registered pid " + std::to_string(::getpid())) != std::string::npos);
}

TEST_CASE("a process with records is brought to the current generation at once") {
    auto& d = daemon_under_test();
    WireClient a = registered_agent(3);
    auto r = a.recv_type(MsgType::Rebind);
    REQUIRE(r);
    Rebind rb = r->as<Rebind>();
    CHECK(rb.generation > 0);
    CHECK_FALSE(rb.mems.empty());
    RebindDone done;
    done.generation = rb.generation;
    done.ranges_rebound = 3;
    done.duration_ns = 1500000;
    REQUIRE(a.send(MsgType::RebindDone, done));
    // One info line per rebind per process.
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
        logged = d.log().find("3 ranges re-bound") != std::string::npos;
        if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(logged);
    WireClient cli(d.socket());
    auto procs = query_list(cli);
    REQUIRE(procs.size() == 1);
    CHECK(procs[0].generation_applied == rb.generation);
    CHECK(procs[0].rebind_pending == 0);
    CHECK(procs[0].last.ranges_rebound == 3);
}

TEST_CASE("malformed frames and a wrong version are dropped, logged once each") {
    auto& d = daemon_under_test();
    {
        WireClient bad(d.socket());
        FrameHeader h;
        h.magic = 0xdeadbeef;
        REQUIRE(bad.send_raw(&h, sizeof h));
        // More garbage after the first: the daemon may have dropped us
        // already (then the send fails with EPIPE/ECONNRESET), which is
        // as good; either way it must log the offender once.
        (void)bad.send_raw(&h, sizeof h);
        CHECK(bad.closed_by_peer());
    }
    {
        WireClient old(d.socket());
        FrameHeader h;
        h.version = kProtocolVersion + 1;
        h.type = static_cast<std::uint16_t>(MsgType::Hello);
        h.payload_size = sizeof(Hello);
        REQUIRE(old.send_raw(&h, sizeof h));
        // The Error frame protocol.hpp promises, then the disconnect.
        auto e = old.recv(2000);
        REQUIRE(e);
        CHECK(e->type() == MsgType::Error);
        CHECK(e->header.version == kProtocolVersion);
        CHECK(e->as<ErrorMsg>().code == EPROTO);
        CHECK(std::string(e->as<ErrorMsg>().message).find("unsupported protocol version") == 0);
        CHECK(old.closed_by_peer());
    }
    {
        WireClient size(d.socket());
        FrameHeader h;
        h.type = static_cast<std::uint16_t>(MsgType::Hello);
        h.payload_size = 1U << 30;
        REQUIRE(size.send_raw(&h, sizeof h));
        CHECK(size.closed_by_peer());
    }
    {
        WireClient liar(d.socket());  // Hello with another pid than SO_PEERCRED's
        Hello h = hello_for_self();
        h.pid = 1;
        REQUIRE(liar.send(MsgType::Hello, h));
        CHECK(liar.closed_by_peer());
    }
    {
        WireClient rude(d.socket());  // a daemon-only message from a client
        Rebind r;
        REQUIRE(rude.send(MsgType::Rebind, r));
        CHECK(rude.closed_by_peer());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::string log = d.log();
    CHECK(count(log, "malformed frame (bad magic") == 1);
    CHECK(count(log, "malformed frame (unsupported protocol version") == 1);
    CHECK(count(log, "malformed frame (payload size does not match") == 1);
    CHECK(count(log, "Hello says pid 1") == 1);
    CHECK(count(log, "a message only the daemon sends") == 1);
    CHECK(d.alive());
}

TEST_CASE("a half-sent frame is dropped after the message timeout") {
    auto& d = daemon_under_test();
    WireClient slow(d.socket());
    FrameHeader h;
    REQUIRE(slow.send_raw(&h, 8));
    CHECK(slow.closed_by_peer(2000));
    CHECK(d.log().find("half-sent frame") != std::string::npos);
}

TEST_CASE("control queries: list, status, show relayed from the agent") {
    auto& d = daemon_under_test();
    WireClient agent = registered_agent();
    WireClient cli(d.socket());
    auto procs = query_list(cli);
    REQUIRE(procs.size() == 1);
    CHECK(procs[0].pid == ::getpid());
    CHECK(procs[0].uid == ::getuid());
    CHECK(std::string(procs[0].comm).size() > 0);
    CHECK(procs[0].cgroup[0] == '/');

    REQUIRE(cli.send(MsgType::QueryStatus, Empty{}, 9));
    auto st = cli.recv();
    REQUIRE(st);
    REQUIRE(st->type() == MsgType::StatusReply);
    CHECK(st->header.seq == 9);
    StatusReply s = st->as<StatusReply>();
    CHECK(s.processes == 1);
    CHECK(s.daemon_pid == static_cast<std::uint32_t>(d.pid()));
    CHECK(s.reconcile_ms == 2000);
    CHECK(s.max_conns_per_uid == 24);
    CHECK(std::string(s.socket_path) == d.socket());
    CHECK(s.dropped_clients >= 5);

    QueryShow q;
    q.pid = ::getpid();
    REQUIRE(cli.send(MsgType::QueryShow, q, 11));
    auto first = cli.recv();
    REQUIRE(first);
    CHECK(first->type() == MsgType::ProcEntry);
    auto dump = agent.recv_type(MsgType::DumpRecords);
    REQUIRE(dump);
    std::uint32_t id = dump->as<DumpRecords>().request_id;
    PolicyEntry range;
    range.request_id = id;
    range.start = 0x10000;
    range.end = 0x20000;
    range.mode = 3;
    range.requested = Nodemask::range(0, 3);
    PolicyEntry thread;
    thread.request_id = id;
    thread.tid = ::getpid();
    thread.mode = 1;
    RecordsEnd end;
    end.request_id = id;
    end.ranges = 1;
    end.threads = 1;
    REQUIRE(agent.send(MsgType::RangeEntry, range));
    REQUIRE(agent.send(MsgType::ThreadEntry, thread));
    REQUIRE(agent.send(MsgType::RecordsEnd, end));
    auto r = cli.recv();
    REQUIRE(r);
    CHECK(r->type() == MsgType::ShowRange);
    CHECK(r->header.seq == 11);
    CHECK(r->as<PolicyEntry>().start == 0x10000);
    CHECK(r->as<PolicyEntry>().requested == Nodemask::range(0, 3));
    auto t = cli.recv();
    REQUIRE(t);
    CHECK(t->type() == MsgType::ShowThread);
    auto e = cli.recv();
    REQUIRE(e);
    CHECK(e->type() == MsgType::ShowEnd);
    CHECK(e->as<RecordsEnd>().ranges == 1);

    // An agent that does not answer: ETIMEDOUT.
    REQUIRE(cli.send(MsgType::QueryShow, q, 12));
    REQUIRE(cli.recv_type(MsgType::ProcEntry));
    auto err = cli.recv_type(MsgType::Error, 3000);
    REQUIRE(err);
    CHECK(err->as<ErrorMsg>().code == ETIMEDOUT);

    // pid 1 exists but is not under numakeep; a pid above pid_max does not exist.
    q.pid = 1;
    REQUIRE(cli.send(MsgType::QueryShow, q, 13));
    err = cli.recv();
    REQUIRE(err);
    REQUIRE(err->type() == MsgType::Error);
    CHECK(err->as<ErrorMsg>().code == ESRCH);
    q.pid = 0x7ffffff0;
    REQUIRE(cli.send(MsgType::QueryShow, q, 14));
    err = cli.recv();
    REQUIRE(err);
    CHECK(err->as<ErrorMsg>().code == ENOENT);
}

TEST_CASE("a non-root caller sees only its own uid's processes") {
    auto& d = daemon_under_test();
    WireClient agent = registered_agent();  // root's process
    pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
        WireClient cli(d.socket());
        if (!cli.connected()) ::_exit(11);
        cli.send(MsgType::QueryList, Empty{}, 1);
        auto f = cli.recv();
        if (!f || f->type() != MsgType::ListEnd || f->as<ListEnd>().count != 0) ::_exit(12);
        QueryShow q;
        q.pid = static_cast<std::int32_t>(::getppid());
        cli.send(MsgType::QueryShow, q, 2);
        f = cli.recv();
        if (!f || f->type() != MsgType::Error || f->as<ErrorMsg>().code != EPERM) ::_exit(13);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK_MESSAGE(WEXITSTATUS(status) == 0,
                  "child step failed: 10 setuid, 11 connect, 12 list, 13 show");
    // Root still sees it.
    WireClient cli(d.socket());
    CHECK(query_list(cli).size() == 1);
}

TEST_CASE("connections per uid are capped") {
    auto& d = daemon_under_test();
    std::vector<WireClient> many;
    for (int i = 0; i < 30; ++i) many.emplace_back(d.socket());
    // The daemon accepts and closes the ones above the cap at once.
    int closed = 0;
    for (auto& c : many)
        if (c.closed_by_peer(200)) ++closed;
    CHECK(closed == 30 - 24);
    CHECK(d.log().find("limit reached") != std::string::npos);
}

namespace {

// Rewrites the configuration with `extra`, sends SIGHUP and waits until the
// daemon's status reports kernel_assist == `assist` (the reload is done).
void reload_with_kernel_assist(PrivateDaemon& d, const std::string& extra, bool assist) {
    d.write_config(extra);
    ::kill(d.pid(), SIGHUP);
    WireClient cli(d.socket());
    bool seen = false;
    for (int i = 0; i < 200 && !seen; ++i) {
        REQUIRE(cli.send(MsgType::QueryStatus, Empty{}));
        auto st = cli.recv();
        REQUIRE(st);
        REQUIRE(st->type() == MsgType::StatusReply);
        seen = (st->as<StatusReply>().kernel_assist != 0) == assist;
        if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE_MESSAGE(seen, "the daemon did not reload '", extra, "'\n", d.log());
}

// Says Hello with `flags`, checks the Welcome's default is `welcome_assist`,
// and returns the kernel_assist the daemon lists for this process.
bool listed_kernel_assist(std::uint32_t flags, bool welcome_assist) {
    auto& d = daemon_under_test();
    WireClient a(d.socket());
    REQUIRE(a.connected());
    Hello h = hello_for_self();
    h.flags = flags;
    REQUIRE(a.send(MsgType::Hello, h));
    auto w = a.recv_type(MsgType::Welcome);
    REQUIRE(w);
    CHECK((w->as<Welcome>().kernel_assist != 0) == welcome_assist);
    WireClient cli(d.socket());
    for (const ProcEntry& e : query_list(cli))
        if (e.pid == ::getpid()) return e.kernel_assist != 0;
    FAIL("this process is not listed after its Hello");
    return false;
}

}  // namespace

// The agent says Hello before it has read the Welcome that gives it the
// daemon's default, so its kHelloKernelAssist is only its own choice when
// NUMAKEEP_KERNEL_ASSIST made it (kHelloKernelAssistFromEnv); otherwise what
// ps shows must be the default the Welcome hands it.
TEST_CASE("the listed kernel_assist is the agent's effective setting") {
    auto& d = daemon_under_test();
    reload_with_kernel_assist(d, "kernel_assist = true\n", true);
    CHECK(listed_kernel_assist(0, true));                                // the default turns it on
    CHECK_FALSE(listed_kernel_assist(kHelloKernelAssistFromEnv, true));  // NUMAKEEP_KERNEL_ASSIST=0
    CHECK(listed_kernel_assist(kHelloKernelAssistFromEnv | kHelloKernelAssist, true));

    reload_with_kernel_assist(d, "", false);  // back to the default: off
    // The bit alone is stale (a fork child of a process a daemon with
    // assistance on had welcomed): the Welcome turns it off.
    CHECK_FALSE(listed_kernel_assist(kHelloKernelAssist, false));
    CHECK_FALSE(listed_kernel_assist(0, false));
    CHECK(listed_kernel_assist(kHelloKernelAssistFromEnv | kHelloKernelAssist, false));
    CHECK_FALSE(listed_kernel_assist(kHelloKernelAssistFromEnv, false));
}

TEST_CASE("SIGHUP with a bad file keeps the running configuration") {
    auto& d = daemon_under_test();
    d.write_config("reconcile_ms = soon\n");
    ::kill(d.pid(), SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(d.alive());
    std::string log = d.log();
    CHECK(log.find("reload failed, keeping the running configuration") != std::string::npos);
    CHECK(log.find("numakeepd.conf:5: 'reconcile_ms' wants a whole number") != std::string::npos);
    d.write_config("reconcile_ms = 750\n");
    ::kill(d.pid(), SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    WireClient cli(d.socket());
    REQUIRE(cli.send(MsgType::QueryStatus, Empty{}));
    auto st = cli.recv();
    REQUIRE(st);
    CHECK(st->as<StatusReply>().reconcile_ms == 750);
}

TEST_CASE("socket activation: the daemon serves the socket it is passed") {
    const char* activate = "/usr/bin/systemd-socket-activate";
    if (::access(activate, X_OK) != 0) {
        MESSAGE("systemd-socket-activate not installed: skipped");
        return;
    }
    char tmpl[] = "/tmp/numakeepd-activate-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string sock = dir + "/activated.sock";
    std::string conf = dir + "/numakeepd.conf";
    std::ofstream(conf) << "cgroup_root = " << dir << "\n";
    const char* bin = std::getenv("NUMAKEEPD");
    REQUIRE(bin);
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open("/dev/null", O_WRONLY);
        ::dup2(fd, 2);
        ::execl(activate, activate, "-l", sock.c_str(), bin, "--config", conf.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    for (int i = 0; i < 300 && ::access(sock.c_str(), F_OK) != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    WireClient cli(sock);
    REQUIRE(cli.connected());
    REQUIRE(cli.send(MsgType::QueryStatus, Empty{}, 3));
    auto st = cli.recv(5000);
    REQUIRE(st);
    REQUIRE(st->type() == MsgType::StatusReply);
    CHECK(std::string(st->as<StatusReply>().socket_path) == sock);
    ::kill(pid, SIGTERM);
    ::waitpid(pid, nullptr, 0);
    std::string cmd = "rm -rf " + dir;
    CHECK(std::system(cmd.c_str()) == 0);
}
