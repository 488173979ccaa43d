// SPDX-License-Identifier: MIT
#include "executable_check.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace numakeep::cli {
namespace {

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) close(fd);
    }
};

bool read_at(int fd, void* buf, std::size_t len, off_t off) {
    return pread(fd, buf, len, off) == static_cast<ssize_t>(len);
}

// True when the program headers of this ELF class contain PT_INTERP.
template <typename Ehdr, typename Phdr>
bool has_pt_interp(int fd) {
    Ehdr eh;
    if (!read_at(fd, &eh, sizeof eh, 0) || eh.e_phentsize != sizeof(Phdr)) return false;
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
        Phdr ph;
        if (!read_at(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof(Phdr))))
            return false;
        if (ph.p_type == PT_INTERP) return true;
    }
    return false;
}

}  // namespace

std::string find_in_path(const std::string& command) {
    if (command.empty()) return {};
    if (command.find('/') != std::string::npos) return command;
    const char* env = std::getenv("PATH");
    std::string_view path = env ? env : "/usr/local/bin:/bin:/usr/bin";
    while (true) {
        std::size_t colon = path.find(':');
        std::string dir(path.substr(0, colon));
        // An empty PATH entry means the current directory (execvp(3)).
        std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
        struct stat st;
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.c_str(), X_OK) == 0)
            return candidate;
        if (colon == std::string_view::npos) break;
        path.remove_prefix(colon + 1);
    }
    return {};
}

std::optional<ExecutableInfo> inspect_executable(const std::string& path) {
    Fd f{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return std::nullopt;
    struct stat st;
    if (fstat(f.fd, &st) != 0) return std::nullopt;
    ExecutableInfo info;
    info.path = path;
    info.setuid = (st.st_mode & S_ISUID) != 0;
    info.setgid = (st.st_mode & S_ISGID) != 0 && (st.st_mode & S_IXGRP) != 0;
    unsigned char ident[EI_NIDENT] = {};
    ssize_t got = pread(f.fd, ident, sizeof ident, 0);
    if (got >= 2 && ident[0] == '#' && ident[1] == '!') {
        info.is_script = true;
        return info;
    }
    if (got != EI_NIDENT || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return info;
    info.is_elf = true;
    if (ident[EI_CLASS] == ELFCLASS64)
        info.has_interpreter = has_pt_interp<Elf64_Ehdr, Elf64_Phdr>(f.fd);
    else if (ident[EI_CLASS] == ELFCLASS32)
        info.has_interpreter = has_pt_interp<Elf32_Ehdr, Elf32_Phdr>(f.fd);
    return info;
}

std::string preload_warning(const ExecutableInfo& info) {
    if (info.is_elf && !info.has_interpreter)
        return info.path +
               " is statically linked: LD_PRELOAD cannot load libnumakeep.so into it, so its "
               "policies will not follow cpuset changes (running it anyway)";
    if (info.setuid || info.setgid)
        return info.path + " is set-" + (info.setuid ? "uid" : "gid") +
               ": the dynamic loader ignores LD_PRELOAD when it changes identity, so its "
               "policies may not follow cpuset changes (running it anyway)";
    return {};
}

}  // namespace numakeep::cli
