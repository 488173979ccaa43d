// SPDX-License-Identifier: MIT
// The wire format between libnumakeep.so's agent, numakeepd and the numakeep
// CLI: one header for all three sides.
//
// A stream of frames over a SOCK_STREAM unix
// socket. Every frame is a fixed 16-byte FrameHeader followed by exactly
// payload_size bytes. Every message type has ONE fixed payload size
// (payload_size_of), so a receiver validates a frame from its header alone
// before reading the body: wrong magic, unknown version, unknown type or a
// size that does not match is a malformed peer and is dropped.
// All fields are fixed-width, host byte order (both ends are on one machine),
// and structs are standard-layout and trivially copyable so they are sent
// with memcpy; static_asserts pin every size.
//
// Flows. Agent: Hello -> Welcome [-> ExecHandoffDeliver] -> repeatedly
// (Rebind -> RebindDone [-> PlacementDone]) and (DumpRecords -> RangeEntry*
// ThreadEntry* RecordsEnd). Exec handoff, on a connection of its own: ExecHandoff ->
// ExecHandoffStored (or Error and a close), then the exec closes it, or
// ExecHandoffCancel when the exec failed. CLI: QueryList -> ProcEntry* ListEnd; QueryShow -> ProcEntry
// ShowRange* ShowThread* ShowEnd, or Error; QueryStatus -> StatusReply;
// SetPolicy -> SetOutcome* SetEnd, or Error (`numakeep set`: one SetOutcome
// per process the request reached).
//
// Versioning: kProtocolVersion changes whenever any layout changes. A peer
// with another version gets an Error frame and is disconnected. New message
// types are additive: the daemon sends ExecHandoffDeliver only to an agent
// whose Hello says it understands it (kHelloExecHandoff).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "numakeep/nodemask.hpp"

namespace numakeep::proto {

inline constexpr std::uint32_t kMagic = 0x504b4d4e;  // "NMKP" little-endian
// 2: StatusReply counts rebinds requested, cpuset.mems writes seen and
// placement's respreads and pages.
// 3: `numakeep set`: SetPolicy, SetOutcome, SetEnd (CLI), SetRequest,
// SetApplied (agent); PolicyEntry says who made each request (origin) and
// StatusReply counts sets.
inline constexpr std::uint16_t kProtocolVersion = 3;

enum class MsgType : std::uint16_t {
    // agent -> daemon
    Hello = 1,          // first frame of an agent connection
    RebindDone = 2,     // answer to Rebind
    RangeEntry = 3,     // one recorded range (answer to DumpRecords)
    ThreadEntry = 4,    // one thread's task policy (answer to DumpRecords)
    RecordsEnd = 5,     // end of a DumpRecords answer
    ExecHandoff = 6,    // first frame of an exec handoff connection (see ExecHandoff)
    ExecHandoffCancel = 7,  // the exec failed: forget the handoff (empty payload)
    PlacementDone = 8,  // a respread after a Rebind ended (see PlacementDone)
    SetApplied = 9,     // answer to SetRequest
    // daemon -> agent
    Welcome = 20,       // answer to Hello: the daemon's defaults
    Rebind = 21,        // "your mems are now M (generation G)"
    DumpRecords = 22,   // ask for every range and thread record
    ExecHandoffStored = 23,   // answer to ExecHandoff: stored (empty payload)
    ExecHandoffDeliver = 24,  // right after Welcome, to a new image: its pending ExecHandoff
    SetRequest = 25,    // `numakeep set` for this process
    // cli -> daemon
    QueryList = 40,     // every process the caller may see
    QueryShow = 41,     // one process's records
    QueryStatus = 42,   // configuration and counters
    SetPolicy = 43,     // `numakeep set`: change running processes' policy
    // daemon -> cli
    ProcEntry = 60,     // one process (answer to QueryList, first of QueryShow)
    ListEnd = 61,       // end of a QueryList answer
    ShowRange = 62,     // relayed RangeEntry
    ShowThread = 63,    // relayed ThreadEntry
    ShowEnd = 64,       // end of a QueryShow answer
    StatusReply = 65,   // answer to QueryStatus
    SetOutcome = 66,    // one process's outcome of a SetPolicy
    SetEnd = 67,        // end of a SetPolicy answer
    // either direction
    Error = 90,         // a request could not be served; see ErrorMsg
};

struct FrameHeader {
    std::uint32_t magic = kMagic;
    std::uint16_t version = kProtocolVersion;
    std::uint16_t type = 0;          // MsgType
    std::uint32_t payload_size = 0;  // bytes after this header
    std::uint32_t seq = 0;           // echoed in answers
};
static_assert(sizeof(FrameHeader) == 16);

// Agent flags in Hello. kHelloKernelAssist is the agent's setting as it
// says Hello, which for an agent not told by NUMAKEEP_KERNEL_ASSIST is only
// what it held before this Welcome (off, or a previous daemon's default
// inherited across fork): the Welcome's default replaces it. So the daemon
// trusts the bit only with kHelloKernelAssistFromEnv, as it trusts
// Hello::semantics only with kHelloSemanticsFromEnv.
inline constexpr std::uint32_t kHelloKernelAssist = 1U << 0;         // kernel-assisted mode on
inline constexpr std::uint32_t kHelloSemanticsFromEnv = 1U << 1;     // NUMAKEEP_SEMANTICS set
inline constexpr std::uint32_t kHelloKernelAssistFromEnv = 1U << 2;  // NUMAKEEP_KERNEL_ASSIST set
// understands ExecHandoffDeliver
inline constexpr std::uint32_t kHelloExecHandoff = 1U << 3;

struct Hello {
    std::int32_t pid = 0;               // as the agent sees itself (checked against SO_PEERCRED)
    std::uint32_t flags = 0;            // kHello*
    std::uint64_t generation_applied = 0;  // last generation applied (inherited across fork)
    std::uint64_t start_time = 0;       // /proc/self/stat field 22, disambiguates pid reuse
    std::uint8_t semantics = 0;         // Semantics in force in the agent
    std::uint8_t reserved[3] = {};
    std::uint32_t ranges = 0;           // live range records
    std::uint32_t threads = 0;          // threads with a task policy record
    std::uint32_t reserved2 = 0;
    Nodemask mems;                      // Mems_allowed when the agent last applied
};
static_assert(sizeof(Hello) == 40 + sizeof(Nodemask));

struct Welcome {
    std::uint8_t default_semantics = 0;  // used unless the agent's came from the environment
    std::uint8_t move_pages = 0;         // re-issue with MPOL_MF_MOVE
    std::uint8_t kernel_assist = 0;      // daemon's default for kernel assistance
    std::uint8_t reserved = 0;
    std::uint32_t daemon_pid = 0;
};
static_assert(sizeof(Welcome) == 8);

inline constexpr std::uint32_t kRebindMovePages = 1U << 0;
// Spread the pages already held to where their intent puts them, after the
// rebind (DESIGN.md, "Placement: the pages already held").
inline constexpr std::uint32_t kRebindPlacement = 1U << 1;

struct Rebind {
    std::uint64_t generation = 0;
    std::uint32_t flags = 0;  // kRebind*
    std::uint32_t placement_rate_mib = 0;  // the respread's rate limit; 0: the runtime's default
    Nodemask mems;            // the cgroup's effective mems now
};
static_assert(sizeof(Rebind) == 16 + sizeof(Nodemask));

struct RebindDone {
    std::uint64_t generation = 0;
    std::uint32_t ranges_rebound = 0;
    std::uint32_t ranges_dropped = 0;   // kernel no longer held what we recorded
    std::uint32_t ranges_checked = 0;   // kernel-assisted: verified, not re-issued
    std::uint32_t threads_rebound = 0;
    std::uint32_t errors = 0;
    std::int32_t first_errno = 0;
    std::uint64_t duration_ns = 0;
};
static_assert(sizeof(RebindDone) == 40);

// Sent by the agent when the respread that followed the Rebind of
// `generation` ended; one that a newer Rebind cut short is not reported
// (the newer one's respread is).
struct PlacementDone {
    std::uint64_t generation = 0;
    std::uint64_t pages_moved = 0;    // now where the intent puts them
    std::uint64_t pages_skipped = 0;  // the kernel could not move them (counted, not retried)
    std::uint64_t pages_placed = 0;   // were already where the intent wants them
    std::uint64_t pages_gone = 0;     // unmapped or remapped under the respread
    std::uint64_t duration_ns = 0;
};
static_assert(sizeof(PlacementDone) == 48);

struct DumpRecords {
    std::uint32_t request_id = 0;  // echoed in every entry
    std::uint32_t reserved = 0;
};
static_assert(sizeof(DumpRecords) == 8);

// One policy as requested and as applied. Used for ranges and threads.
struct PolicyEntry {
    std::uint32_t request_id = 0;
    std::int32_t tid = 0;            // threads: the thread; ranges: 0
    std::uint64_t start = 0;         // ranges: [start, end); threads: 0
    std::uint64_t end = 0;
    std::uint16_t mode = 0;          // requested mode
    std::uint16_t flags = 0;         // requested mode flags
    std::int32_t home_node = -1;     // requested home node
    std::uint16_t kernel_mode = 0;   // what get_mempolicy says now (mode | flags)
    std::uint8_t assisted = 0;       // issued with kernel assistance (MPOL_F_RELATIVE_NODES)
    std::uint8_t kernel_ok = 0;      // kKernelRead: kernel_mode/kernel_nodes could be read
    std::int32_t rule_home_node = -1;
    std::uint8_t origin = 0;         // kOrigin*: who made the request
    std::uint8_t reserved[3] = {};
    std::int32_t set_by_pid = 0;     // kOriginSet: the caller of `numakeep set`
    std::uint32_t set_by_uid = 0;
    std::uint32_t reserved2 = 0;
    std::int64_t set_unix_ms = 0;    // kOriginSet: when (0: no longer known)
    Nodemask requested;              // nodes as the program passed them
    Nodemask mems_at_request;        // M0
    Nodemask rule_now;               // rule(request, M0, M_now)
    Nodemask kernel_now;             // read back from the kernel
};
static_assert(sizeof(PolicyEntry) == 64 + 4 * sizeof(Nodemask));
// PolicyEntry::origin: the program's own call (or a policy inherited at
// exec), or `numakeep set`.
constexpr std::uint8_t kOriginProgram = 0;
constexpr std::uint8_t kOriginSet = 1;
// PolicyEntry::kernel_ok: read back, not read, or not read because the
// thread blocks numakeep's rebind signal (an inline rt_sigprocmask): it is
// unreachable until it unblocks it.
constexpr std::uint8_t kKernelUnread = 0;
constexpr std::uint8_t kKernelRead = 1;
constexpr std::uint8_t kKernelUnreachable = 2;

// The task policy an exec must not lose (include/numakeep/exec_handoff.hpp).
// The runtime about to exec opens a connection of its own, sends this as
// its first frame, waits briefly for ExecHandoffStored, keeps it open
// across the exec: the kernel closes it (CLOEXEC) when the exec succeeds,
// which is how the daemon knows the exec happened; a failed exec sends
// ExecHandoffCancel. When the new image (same pid, same start time) says
// Hello with kHelloExecHandoff after that close, the daemon sends it this
// frame again as ExecHandoffDeliver, right after Welcome. The pid is the peer's
// (SO_PEERCRED), never in the payload.
// The exec'ing image's record is still the one it learned at start-up from
// the policy an exec left: the daemon may chain it to that exec's handoff
// when its new image has not taken it yet.
inline constexpr std::uint32_t kExecHandoffFromStartup = 1U << 0;

struct ExecHandoff {
    std::uint64_t generation = 0;   // the generation the exec'ing process had applied
    std::uint16_t mode = 0;         // the request R: mode, flags, home node
    std::uint16_t flags = 0;
    std::int32_t home_node = -1;
    std::uint16_t issued_mode = 0;  // what the kernel held at the exec (get_mempolicy)
    std::uint16_t issued_flags = 0;
    std::uint32_t handoff_flags = 0;  // kExecHandoff*
    Nodemask requested;             // R's nodes
    Nodemask mems_at_request;       // M0
    Nodemask issued_nodes;          // the kernel's nodes at the exec
    Nodemask mems_at_exec;          // Mems_allowed at the exec
};
static_assert(sizeof(ExecHandoff) == 24 + 4 * sizeof(Nodemask));

struct RecordsEnd {
    std::uint32_t request_id = 0;
    std::uint32_t ranges = 0;
    std::uint32_t threads = 0;
    std::uint32_t truncated = 0;  // 1 when the agent stopped early
};
static_assert(sizeof(RecordsEnd) == 16);

struct QueryShow {
    std::int32_t pid = 0;
    std::uint32_t reserved = 0;
};
static_assert(sizeof(QueryShow) == 8);

inline constexpr std::size_t kCommLen = 16;
inline constexpr std::size_t kCgroupLen = 256;

struct ProcEntry {
    std::int32_t pid = 0;
    std::uint32_t uid = 0;
    std::uint64_t generation_applied = 0;
    std::uint64_t generation_current = 0;  // the cgroup's generation
    std::uint32_t ranges = 0;
    std::uint32_t threads = 0;
    std::uint8_t semantics = 0;
    std::uint8_t kernel_assist = 0;
    std::uint8_t rebind_pending = 0;
    std::uint8_t reserved = 0;
    std::int32_t last_errno = 0;           // first errno of the last rebind, 0 if fine
    std::int64_t last_rebind_unix_ms = 0;  // 0: never
    RebindDone last;                       // what the last rebind did
    char comm[kCommLen] = {};
    char cgroup[kCgroupLen] = {};          // NUL-terminated, truncated
    Nodemask mems_now;
};
static_assert(sizeof(ProcEntry) == 48 + sizeof(RebindDone) + kCommLen + kCgroupLen + sizeof(Nodemask));

struct ListEnd {
    std::uint32_t count = 0;
    std::uint32_t reserved = 0;
};
static_assert(sizeof(ListEnd) == 8);

struct StatusReply {
    std::uint32_t daemon_pid = 0;
    std::uint32_t processes = 0;
    std::uint64_t uptime_ms = 0;
    std::uint64_t ranges = 0;
    std::uint64_t threads = 0;
    std::uint64_t rebinds = 0;          // rebind commands completed (RebindDone)
    std::uint64_t ranges_rebound = 0;
    std::uint64_t ranges_dropped = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t dropped_clients = 0;  // malformed/hostile peers disconnected
    std::uint64_t rebinds_requested = 0;  // Rebind commands sent
    std::uint64_t mems_writes = 0;        // writes to cpuset.mems seen
    std::uint64_t respreads = 0;        // respreads reported done (PlacementDone)
    std::uint64_t pages_moved = 0;      // by those respreads
    std::uint64_t pages_skipped = 0;    // the kernel could not move them
    std::uint64_t sets = 0;             // `numakeep set` requests served (SetPolicy)
    std::uint32_t reconcile_ms = 0;
    std::uint32_t rebind_timeout_ms = 0;
    std::uint32_t max_conns_per_uid = 0;
    std::uint32_t max_concurrency = 0;
    std::uint8_t default_semantics = 0;
    std::uint8_t placement = 0;         // respread after rebinds (numakeepd.conf `placement`)
    std::uint8_t kernel_assist = 0;
    std::uint8_t log_level = 0;         // spdlog level
    std::uint32_t placement_rate_mib = 0;
    char config_path[256] = {};
    char socket_path[108] = {};
    char version[36] = {};
};
static_assert(sizeof(StatusReply) == 152 + 256 + 108 + 36);

// Error codes: errno values (ENOENT no such pid, EPERM another user's
// process, ESRCH pid not under numakeep, EPROTO malformed, ETIMEDOUT agent
// did not answer) with a short human message.
struct ErrorMsg {
    std::int32_t code = 0;
    std::uint32_t reserved = 0;
    char message[120] = {};
};
static_assert(sizeof(ErrorMsg) == 128);

// --- numakeep set ----------------------------------------------------------
// No kernel lets one process change another's memory policy (DESIGN.md,
// "Kernels and distributions"): the CLI asks the daemon, the daemon checks
// the caller as migrate_pages(2) would and asks each target's agent, and
// the agent issues the policy inside its process as a request of its own,
// made under the mems of that moment. The program's later calls replace it.

// SetPolicy::scope / SetRequest::scope
inline constexpr std::uint8_t kSetTask = 1U << 0;    // every thread's task policy
inline constexpr std::uint8_t kSetRanges = 1U << 1;  // the recorded ranges
// SetPolicy::options / SetRequest::options
inline constexpr std::uint8_t kSetMove = 1U << 0;    // respread the pages already held
inline constexpr std::uint8_t kSetWait = 1U << 1;    // answer once the agents did it
inline constexpr std::uint8_t kSetRange = 1U << 2;   // only ranges overlapping range_*

struct SetPolicy {
    std::int32_t pid = 0;       // the target; 0: every process under numakeep in `cgroup`
    std::uint8_t scope = 0;     // kSetTask | kSetRanges
    std::uint8_t options = 0;   // kSet{Move,Wait,Range}
    std::uint16_t mode = 0;     // Mode
    std::uint16_t flags = 0;    // mode flags (kFlag*)
    std::uint16_t reserved = 0;
    std::int32_t home_node = -1;
    std::uint64_t range_start = 0;  // [start, end) with kSetRange
    std::uint64_t range_end = 0;
    Nodemask nodes;
    char cgroup[kCgroupLen] = {};   // with pid 0: the cgroup (and its descendants)
};
static_assert(sizeof(SetPolicy) == 32 + sizeof(Nodemask) + kCgroupLen);

struct SetRequest {
    std::uint32_t set_id = 0;    // echoed in SetApplied
    std::int32_t caller_pid = 0;  // who asked (SO_PEERCRED of the CLI)
    std::uint32_t caller_uid = 0;
    std::uint8_t scope = 0;
    std::uint8_t options = 0;
    std::uint16_t mode = 0;
    std::uint16_t flags = 0;
    std::uint16_t reserved = 0;
    std::int32_t home_node = -1;
    std::int64_t unix_ms = 0;    // when it was asked
    std::uint64_t range_start = 0;
    std::uint64_t range_end = 0;
    std::uint32_t placement_rate_mib = 0;  // kSetMove: the respread's rate; 0: the default
    std::uint32_t reserved2 = 0;
    Nodemask nodes;
};
static_assert(sizeof(SetRequest) == 56 + sizeof(Nodemask));

struct SetApplied {
    std::uint32_t set_id = 0;
    std::uint32_t ranges_set = 0;      // range pieces now carrying the policy
    std::uint32_t threads_set = 0;     // threads now carrying it
    std::uint32_t threads_silent = 0;  // signalled, did not answer in time
    std::uint32_t threads_unreachable = 0;  // block numakeep's signal
    std::uint32_t errors = 0;
    std::int32_t first_errno = 0;      // EINVAL: the kernel refused the nodes here
    std::uint32_t moved = 0;           // 1 when the pages were respread (kSetMove)
    std::uint64_t pages_moved = 0;
    std::uint64_t pages_skipped = 0;
    std::uint64_t duration_ns = 0;
};
static_assert(sizeof(SetApplied) == 56);

// SetOutcome::state
inline constexpr std::uint8_t kSetSent = 0;     // asked, not waited for (no kSetWait)
inline constexpr std::uint8_t kSetApplied = 1;  // the agent did it (`applied` says what)
inline constexpr std::uint8_t kSetFailed = 2;   // `code` says why

struct SetOutcome {
    std::int32_t pid = 0;
    std::uint32_t uid = 0;
    std::int32_t code = 0;  // 0, or an errno: EPERM, ESRCH (not under numakeep), ENOENT
                            // (gone), ETIMEDOUT, EINVAL, EIO (took it only partly)
    std::uint8_t state = kSetSent;
    std::uint8_t reserved[3] = {};
    SetApplied applied;
    char comm[kCommLen] = {};
    char message[88] = {};  // for a person, NUL-terminated
};
static_assert(sizeof(SetOutcome) == 16 + sizeof(SetApplied) + kCommLen + 88);

struct SetEnd {
    std::uint32_t processes = 0;  // SetOutcomes sent
    std::uint32_t applied = 0;    // of them kSetApplied or kSetSent
    std::uint32_t failed = 0;
    std::uint32_t reserved = 0;
};
static_assert(sizeof(SetEnd) == 16);

struct Empty {};

// The one fixed payload size of each message type; 0 with known=false for
// an unknown type.
struct PayloadSize {
    bool known;
    std::uint32_t size;
};
constexpr PayloadSize payload_size_of(std::uint16_t type) {
    switch (static_cast<MsgType>(type)) {
        case MsgType::Hello: return {true, sizeof(Hello)};
        case MsgType::RebindDone: return {true, sizeof(RebindDone)};
        case MsgType::PlacementDone: return {true, sizeof(PlacementDone)};
        case MsgType::RangeEntry:
        case MsgType::ThreadEntry:
        case MsgType::ShowRange:
        case MsgType::ShowThread: return {true, sizeof(PolicyEntry)};
        case MsgType::RecordsEnd:
        case MsgType::ShowEnd: return {true, sizeof(RecordsEnd)};
        case MsgType::ExecHandoff:
        case MsgType::ExecHandoffDeliver: return {true, sizeof(ExecHandoff)};
        case MsgType::ExecHandoffCancel:
        case MsgType::ExecHandoffStored: return {true, 0};
        case MsgType::Welcome: return {true, sizeof(Welcome)};
        case MsgType::Rebind: return {true, sizeof(Rebind)};
        case MsgType::DumpRecords: return {true, sizeof(DumpRecords)};
        case MsgType::QueryList:
        case MsgType::QueryStatus: return {true, 0};
        case MsgType::QueryShow: return {true, sizeof(QueryShow)};
        case MsgType::ProcEntry: return {true, sizeof(ProcEntry)};
        case MsgType::ListEnd: return {true, sizeof(ListEnd)};
        case MsgType::StatusReply: return {true, sizeof(StatusReply)};
        case MsgType::Error: return {true, sizeof(ErrorMsg)};
        case MsgType::SetPolicy: return {true, sizeof(SetPolicy)};
        case MsgType::SetRequest: return {true, sizeof(SetRequest)};
        case MsgType::SetApplied: return {true, sizeof(SetApplied)};
        case MsgType::SetOutcome: return {true, sizeof(SetOutcome)};
        case MsgType::SetEnd: return {true, sizeof(SetEnd)};
    }
    return {false, 0};
}

// Largest payload of any type: receivers size their buffers with it.
inline constexpr std::size_t kMaxPayload = sizeof(PolicyEntry) > sizeof(StatusReply)
                                               ? (sizeof(PolicyEntry) > sizeof(ProcEntry)
                                                      ? sizeof(PolicyEntry)
                                                      : sizeof(ProcEntry))
                                               : sizeof(StatusReply);
inline constexpr std::size_t kMaxFrame = sizeof(FrameHeader) + kMaxPayload;
static_assert(sizeof(ExecHandoff) <= kMaxPayload);
static_assert(sizeof(SetPolicy) <= kMaxPayload && sizeof(SetRequest) <= kMaxPayload &&
              sizeof(SetOutcome) <= kMaxPayload);

enum class HeaderCheck { Ok, BadMagic, BadVersion, UnknownType, BadSize };

// Validates a received header before its payload is read.
constexpr HeaderCheck check_header(const FrameHeader& h) {
    if (h.magic != kMagic) return HeaderCheck::BadMagic;
    if (h.version != kProtocolVersion) return HeaderCheck::BadVersion;
    auto ps = payload_size_of(h.type);
    if (!ps.known) return HeaderCheck::UnknownType;
    if (h.payload_size != ps.size) return HeaderCheck::BadSize;
    return HeaderCheck::Ok;
}

constexpr const char* to_string(HeaderCheck c) {
    switch (c) {
        case HeaderCheck::Ok: return "ok";
        case HeaderCheck::BadMagic: return "bad magic";
        case HeaderCheck::BadVersion: return "unsupported protocol version";
        case HeaderCheck::UnknownType: return "unknown message type";
        case HeaderCheck::BadSize: return "payload size does not match its type";
    }
    return "?";
}

// Encodes one frame into buf (which must hold sizeof(FrameHeader) +
// sizeof(T)); returns the frame length. No allocation: usable in the agent.
template <typename T>
std::size_t encode(MsgType type, std::uint32_t seq, const T& body, unsigned char* buf) {
    static_assert(std::is_trivially_copyable_v<T>);
    FrameHeader h;
    h.type = static_cast<std::uint16_t>(type);
    h.payload_size = std::is_same_v<T, Empty> ? 0 : static_cast<std::uint32_t>(sizeof(T));
    h.seq = seq;
    std::memcpy(buf, &h, sizeof h);
    if constexpr (!std::is_same_v<T, Empty>) std::memcpy(buf + sizeof h, &body, sizeof(T));
    return sizeof h + h.payload_size;
}

// Decodes a validated payload into T; false when the size does not match.
template <typename T>
bool decode(const FrameHeader& h, const unsigned char* payload, T& out) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (h.payload_size != sizeof(T)) return false;
    std::memcpy(&out, payload, sizeof(T));
    return true;
}

}  // namespace numakeep::proto
