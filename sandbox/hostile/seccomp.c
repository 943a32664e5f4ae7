// System calls the sandbox's seccomp profile (sandbox/seccomp/coderoom.json) refuses, each tried
// for real: io_uring, and sockets of families a program never needs (AF_VSOCK reaches the
// hypervisor's services on a VM host; AF_ALG is the kernel's crypto API; the others are rarely
// used, module-loaded families with a history of kernel bugs), a 32-bit socketcall(2) through
// `int 0x80` (which a filter could not inspect), and socketpair of a non-Unix family.
// Expected: OK, one "refused <call>: Operation not permitted" line per call (EPERM is the
// profile's answer; the kernel itself would answer EAFNOSUPPORT, or succeed), never "ALLOWED".
// Allowed calls are tried too, so a profile that refuses everything fails the test as well.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r) {
  if (r >= 0) {
    printf("ALLOWED %s\n", name);
    if (r > 2) close((int)r);
  } else {
    printf("refused %s: %s\n", name, strerror(errno));
  }
}

static void family(const char *name, int fam, int type, int proto) {
  report(name, socket(fam, type, proto));
}

/** socketcall(SYS_SOCKET, {AF_VSOCK, SOCK_STREAM, 0}) through the 32-bit entry point, in a child:
 * a filter without the x86 architecture may kill it (SIGSYS) instead of failing the call. */
static void socketcall32(void) {
  pid_t pid = fork();
  if (pid == 0) {
    unsigned int *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    if (args == MAP_FAILED) _exit(3);
    args[0] = 40; /* AF_VSOCK */
    args[1] = SOCK_STREAM;
    args[2] = 0;
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(102), "b"(1), "c"(args) : "memory");
    _exit(r >= 0 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) printf("ALLOWED socketcall32(AF_VSOCK)\n");
  else if (WIFSIGNALED(status)) printf("refused socketcall32(AF_VSOCK): killed by signal %d\n", WTERMSIG(status));
  else printf("refused socketcall32(AF_VSOCK): failed\n");
}

int main(void) {
  unsigned char params[120] = {0};
  errno = 0;
  report("io_uring_setup", syscall(SYS_io_uring_setup, 4, params));
  report("io_uring_enter", syscall(SYS_io_uring_enter, 0, 0, 0, 0, NULL, 0));
  report("io_uring_register", syscall(SYS_io_uring_register, 0, 0, NULL, 0));
  family("socket(AF_VSOCK)", 40, SOCK_STREAM, 0);
  family("socket(AF_ALG)", 38, SOCK_SEQPACKET, 0);
  family("socket(AF_PACKET)", 17, SOCK_DGRAM, 0);
  family("socket(AF_KEY)", 15, SOCK_RAW, 2);
  family("socket(AF_TIPC)", 30, SOCK_RDM, 0);
  family("socket(AF_RDS)", 21, SOCK_SEQPACKET, 0);
  family("socket(AF_CAN)", 29, SOCK_RAW, 1);
  family("socket(AF_BLUETOOTH)", 31, SOCK_STREAM, 3);
  family("socket(AF_XDP)", 44, SOCK_RAW, 0);
  family("socket(AF_NETLINK, NETLINK_NETFILTER)", AF_NETLINK, SOCK_RAW, 12);
  int sv[2];
  report("socketpair(AF_TIPC)", socketpair(30, SOCK_DGRAM, 0, sv));
  socketcall32();
  // What programs do use: still there.
  family("socket(AF_UNIX)", AF_UNIX, SOCK_STREAM, 0);
  family("socket(AF_INET)", AF_INET, SOCK_STREAM, 0);
  family("socket(AF_INET6)", AF_INET6, SOCK_DGRAM, 0);
  family("socket(AF_NETLINK, NETLINK_ROUTE)", AF_NETLINK, SOCK_RAW, 0);
  report("socketpair(AF_UNIX)", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  return 0;
}
