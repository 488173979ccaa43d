// SPDX-License-Identifier: MIT
// numakeepd: keeps the NUMA memory policies of programs running under
// libnumakeep.so true to their intent while their cgroup's cpuset.mems
// changes. See numakeepd(8).
//
//   numakeepd [--config FILE] [--socket PATH] [--foreground]
//             [--log-level LEVEL] [--reconcile-ms N]
#include <getopt.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "config.hpp"
#include "logging.hpp"
#include "numakeep_config.h"
#include "numakeepd.hpp"

using namespace numakeep::daemon;

namespace {

void usage(FILE* out) {
    std::fprintf(out,
                 "usage: numakeepd [--config FILE] [--socket PATH] [--foreground]\n"
                 "                 [--log-level LEVEL] [--reconcile-ms N]\n"
                 "\n"
                 "  --config FILE      configuration (default %s; missing = defaults)\n"
                 "  --socket PATH      listening socket (default %s)\n"
                 "  --foreground       stay in the foreground (numakeepd never forks)\n"
                 "  --log-level LEVEL  trace, debug, info, warn, error, critical, off\n"
                 "  --reconcile-ms N   period of the reconcile against /proc (default 2000)\n"
                 "  --version          print the version\n",
                 NUMAKEEP_CONF_PATH, NUMAKEEP_SOCKET_PATH);
}

}  // namespace

int main(int argc, char** argv) {
    setup_logging();
    Options opts;
    opts.config_path = NUMAKEEP_CONF_PATH;
    static const option longopts[] = {
        {"config", required_argument, nullptr, 'c'},
        {"socket", required_argument, nullptr, 's'},
        {"foreground", no_argument, nullptr, 'f'},
        {"log-level", required_argument, nullptr, 'l'},
        {"reconcile-ms", required_argument, nullptr, 'r'},
        {"help", no_argument, nullptr, 'h'},
        {"version", no_argument, nullptr, 'V'},
        {nullptr, 0, nullptr, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:s:fl:r:hV", longopts, nullptr)) != -1) {
        switch (ch) {
            case 'c':
                opts.config_path = optarg;
                break;
            case 's':
                opts.socket_path = optarg;
                break;
            case 'f':
                break;
            case 'l':
                opts.log_level = parse_log_level(optarg);
                if (!opts.log_level) {
                    std::fprintf(stderr, "numakeepd: unknown log level '%s'\n", optarg);
                    return 2;
                }
                break;
            case 'r': {
                char* end = nullptr;
                unsigned long v = std::strtoul(optarg, &end, 10);
                if (!*optarg || *end || v < 10 || v > 3'600'000) {
                    std::fprintf(stderr,
                                 "numakeepd: --reconcile-ms wants 10 to 3600000, not '%s'\n",
                                 optarg);
                    return 2;
                }
                opts.reconcile_ms = static_cast<std::uint32_t>(v);
                break;
            }
            case 'h':
                usage(stdout);
                return 0;
            case 'V':
                std::printf("numakeepd %s\n", NUMAKEEP_VERSION);
                return 0;
            default:
                usage(stderr);
                return 2;
        }
    }
    if (optind < argc) {
        std::fprintf(stderr, "numakeepd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    // Each registered process holds a connection and a pidfd: raise the
    // soft descriptor limit to the hard one.
    rlimit nofile{};
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &nofile);
    }

    auto loaded = load_config(opts.config_path);
    if (auto* err = std::get_if<ConfigError>(&loaded)) {
        spdlog::critical("{}", err->message());
        return 1;
    }
    try {
        Numakeepd daemon(opts, std::get<Config>(std::move(loaded)));
        return daemon.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
}
