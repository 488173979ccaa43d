// SPDX-License-Identifier: MIT
// The next definitions of every interposed symbol: libnuma's (or another
// preload's) mbind & co., libc's munmap, mremap, mmap, shmdt, syscall,
// pthread_create and the exec family, found with dlsym(RTLD_NEXT) once, at
// start-up.
//
// Until they are resolved (a call that arrives while dlsym itself runs, or
// a program without libnuma) the memory-policy calls and the address-space
// calls go straight to the kernel, which is all libnuma's and libc's
// wrappers do; the result and errno are the same.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstddef>

namespace numakeep::preload::real {

// Resolves every next definition; called once by the runtime's initializer
// with the reentrancy guard held (dlsym may allocate and come back to us).
void resolve();

long mbind(void* start, unsigned long len, int mode, const unsigned long* nodemask,
           unsigned long maxnode, unsigned flags);
long set_mempolicy(int mode, const unsigned long* nodemask, unsigned long maxnode);
long get_mempolicy(int* mode, unsigned long* nodemask, unsigned long maxnode, void* addr,
                   unsigned long flags);
long set_mempolicy_home_node(unsigned long start, unsigned long len, unsigned long home_node,
                             unsigned long flags);
int munmap(void* addr, std::size_t len);
void* mremap(void* old, std::size_t old_len, std::size_t new_len, int flags, void* new_addr);
void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off);
void* mmap64(void* addr, std::size_t len, int prot, int flags, int fd, off_t off);
int shmdt(const void* addr);
// libc's syscall(): the number and six arguments, libc's convention.
long syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
pid_t fork();
// The exec family glibc builds the others on. execve and execveat fall
// back to their system calls, fexecve to execveat(AT_EMPTY_PATH) as glibc's
// does; execvpe (a PATH search, no system call of its own) is looked up on
// the spot when it comes before resolve().
int execve(const char* path, char* const argv[], char* const envp[]);
int execvpe(const char* file, char* const argv[], char* const envp[]);
int fexecve(int fd, char* const argv[], char* const envp[]);
int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags);
int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*fn)(void*), void* arg);

}  // namespace numakeep::preload::real
