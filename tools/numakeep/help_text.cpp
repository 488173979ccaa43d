// SPDX-License-Identifier: MIT
// Every --help text in one file, kept in step with numakeep(1).
#include "commands.hpp"

namespace numakeep::cli {

const char* const kExitCodesHelp =
    "Exit status:\n"
    "  0    success\n"
    "  1    bad usage: unknown option, bad node list, bad PID, policy refused\n"
    "  2    numakeepd is not running, did not answer, or answered nonsense\n"
    "  3    no such process, or the process is not under numakeep\n"
    "  4    permission denied (another user's process, or the socket)\n"
    "  5    the process did not answer numakeepd in time\n"
    "  126  run: COMMAND could not be executed\n"
    "  127  run: COMMAND was not found\n"
    "  otherwise, run exits as COMMAND does\n";

const char* const kMainHelp =
    "Usage: numakeep COMMAND [OPTION...]\n"
    "       numakeep --help | --version\n"
    "\n"
    "Keep the NUMA memory policies a program asked for true to their intent while\n"
    "its cgroup's cpuset.mems changes.\n"
    "\n"
    "Commands:\n"
    "  run [POLICY] [--semantics S] [--] COMMAND [ARG...]\n"
    "                     run COMMAND under libnumakeep.so, in place (same pid)\n"
    "  ps [--json]        the processes numakeepd knows\n"
    "  show [--json] [PID]\n"
    "                     a process's task policies and recorded ranges, requested\n"
    "                     vs applied; without PID, this command's own task policy\n"
    "  status [--json]    numakeepd's configuration in force, counters, uptime\n"
    "\n"
    "`numakeep COMMAND --help` describes each command.\n"
    "\n"
    "Environment:\n"
    "  NUMAKEEP_SOCKET    numakeepd's socket (default /run/numakeep/numakeepd.sock)\n"
    "  NUMAKEEP_PRELOAD   the libnumakeep.so run preloads (default: the installed one)\n"
    "\n";

const char* const kRunHelp =
    "Usage: numakeep run [POLICY] [--semantics S] [--] COMMAND [ARG...]\n"
    "\n"
    "Executes COMMAND in place (it keeps numakeep's pid), with libnumakeep.so\n"
    "appended to LD_PRELOAD, after setting POLICY as its task policy the way\n"
    "numactl does. numakeepd then keeps every policy COMMAND asks for true to\n"
    "its intent when its cpuset.mems changes.\n"
    "\n"
    "POLICY (at most one, as numactl(8) takes it):\n"
    "  -i, --interleave=NODES           interleave over NODES\n"
    "  -m, --membind=NODES              allocate only on NODES\n"
    "  -p, --preferred=NODE             prefer NODE\n"
    "  -P, --preferred-many=NODES       prefer NODES\n"
    "  -w, --weighted-interleave=NODES  weighted interleave over NODES (Linux 6.9+)\n"
    "  -l, --localalloc                 allocate on the local node\n"
    "\n"
    "NODES: numbers and ranges, as 0-3,7; all (every node of the current cpuset);\n"
    "+ in front makes them positions inside the current cpuset (+0-1); ! in front\n"
    "inverts them (!1: all allowed nodes but 1; !+0 also works).\n"
    "\n"
    "Options:\n"
    "      --semantics=S  how COMMAND's policies follow cpuset changes: intent\n"
    "                     (default), static, relative or kernel (NUMAKEEP_SEMANTICS)\n"
    "  -h, --help         this text\n"
    "\n"
    "A statically linked or set-uid COMMAND cannot load libnumakeep.so: run warns,\n"
    "then runs it anyway.\n"
    "\n";

const char* const kPsHelp =
    "Usage: numakeep ps [--json]\n"
    "\n"
    "Lists every process numakeepd knows (a user other than root sees their own):\n"
    "pid, command, cgroup, the cgroup's mems now, whether the process has applied\n"
    "them (current, pending: a rebind is on its way, behind: not yet told),\n"
    "recorded ranges, threads with a task policy, and the last rebind with its\n"
    "result.\n"
    "\n"
    "Options:\n"
    "      --json   one JSON document (schema numakeep.ps/1, see numakeep(1))\n"
    "  -h, --help   this text\n"
    "\n";

const char* const kShowHelp =
    "Usage: numakeep show [--json] [PID]\n"
    "\n"
    "Like `numactl --show`, for any process under numakeep: its task policies,\n"
    "then each recorded range: address range, size, mode and flags, nodes as\n"
    "requested, the mems at the request, the nodes the rule gives now, and the\n"
    "nodes the kernel holds now (read from the kernel by the process itself).\n"
    "Marks: * the kernel's nodes differ from the rule's; ? the kernel's policy\n"
    "could not be read; U the thread is unreachable (it blocks numakeep's rebind\n"
    "signal); A kernel-assisted (MPOL_F_RELATIVE_NODES keeps the intent).\n"
    "\n"
    "Without PID, shows numakeep's own task policy, as numactl --show does\n"
    "(numakeep itself is never under numakeep).\n"
    "\n"
    "Options:\n"
    "      --json   one JSON document (schema numakeep.show/1, see numakeep(1))\n"
    "  -h, --help   this text\n"
    "\n";

const char* const kStatusHelp =
    "Usage: numakeep status [--json]\n"
    "\n"
    "numakeepd's configuration in force (default semantics, page moving, kernel\n"
    "assistance, reconcile period, limits, log level), its counters (processes,\n"
    "ranges, threads, cpuset.mems writes seen, rebinds requested and answered,\n"
    "ranges re-bound and dropped, errors, timeouts) and its uptime.\n"
    "\n"
    "Options:\n"
    "      --json   one JSON document (schema numakeep.status/1, see numakeep(1))\n"
    "  -h, --help   this text\n"
    "\n";

}  // namespace numakeep::cli
