/*
 * novnni.so: run a program on this machine as if its x86 CPU had AVX2 but no AVX-512, no VNNI and no AMX
 * (an AMD Zen 1-3 or an Intel Haswell-Skylake client), at native speed.
 *
 *   gcc -O2 -shared -fPIC -o novnni.so novnni.c
 *   LD_PRELOAD=$PWD/novnni.so java ...        (or any program)
 *
 * How: Linux's ARCH_SET_CPUID (arch_prctl) makes the CPUID instruction fault in this process (needs the
 * `cpuid_fault` flag in /proc/cpuinfo: Intel since Ivy Bridge, and KVM guests). The SIGSEGV handler executes the
 * real CPUID with faulting briefly switched off, clears the AVX-512 / VNNI / AMX feature bits, and resumes after
 * the instruction. Libraries that choose their kernels from CPUID (ONNX Runtime's MLAS, the JVM's JIT) then take
 * their AVX2 code paths, which are the real instructions an AVX2-only CPU executes. /proc/cpuinfo is not changed:
 * give ptq -Dptq.cpuinfo=<a cpuinfo without those flags> so it reports the same CPU.
 *
 * The setting is inherited by threads and children and reset by exec; LD_PRELOAD reapplies it after exec.
 * Our handler stays installed: sigaction(SIGSEGV, ...) calls of the program (the JVM, Chromium's crash handler, gcc)
 * are interposed and only record the program's handler, which receives every SIGSEGV that is not a CPUID.
 * Set NOVNNI_QUIET=1 to silence the one-line notice.
 * If the kernel or CPU cannot fault CPUID, it prints why and changes nothing (exit status of the program is kept);
 * NOVNNI_STRICT=1 makes that fatal (exit 97) so a test cannot silently measure the wrong kernels.
 */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef ARCH_SET_CPUID
#define ARCH_SET_CPUID 0x1012
#endif

/* the SIGSEGV handler the program believes is installed (its own, or what was there before us) */
static struct sigaction app;
static int active;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static void mask(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d) {
    if (leaf == 7 && sub == 0) {
        /* EBX: avx512f 16, dq 17, ifma 21, pf 26, er 27, cd 28, bw 30, vl 31 */
        *b &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        /* ECX: vbmi 1, vbmi2 6, avx512_vnni 11, bitalg 12, vpopcntdq 14 */
        *c &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* EDX: 4vnniw 2, 4fmaps 3, vp2intersect 8, amx_bf16 22, avx512_fp16 23, amx_tile 24, amx_int8 25 */
        *d &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        /* EAX: avx_vnni 4, avx512_bf16 5, amx_fp16 21, avx_ifma 23; EDX: avx_vnni_int8 4, avx_ne_convert 5, avx10 19 */
        *a &= ~((1u << 4) | (1u << 5) | (1u << 21) | (1u << 23));
        *d &= ~((1u << 4) | (1u << 5) | (1u << 19));
    } else if (leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
        *a = *b = *c = *d = 0; /* AMX tile and AVX10 information */
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = (ucontext_t *) context;
    greg_t *r = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *) r[REG_RIP];
    if (ip != NULL && ip[0] == 0x0f && ip[1] == 0xa2) {
        uint32_t leaf = (uint32_t) r[REG_RAX], sub = (uint32_t) r[REG_RCX];
        uint32_t a = leaf, b, c = sub, d;
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
        mask(leaf, sub, &a, &b, &c, &d);
        r[REG_RAX] = a; r[REG_RBX] = b; r[REG_RCX] = c; r[REG_RDX] = d;
        r[REG_RIP] += 2;
        return;
    }
    if (app.sa_flags & SA_SIGINFO) {
        app.sa_sigaction(sig, info, context);
    } else if (app.sa_handler != SIG_DFL && app.sa_handler != SIG_IGN) {
        app.sa_handler(sig);
    } else {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        real_sigaction(sig, &dfl, NULL); /* the fault repeats on return and kills the process as it would have */
    }
}

/* Interposed: signal(SIGSEGV, h) records h like sigaction does (glibc's signal does not go through our sigaction). */
static sighandler_t record_handler(int sig, sighandler_t h, const char *real_name) {
    if (sig != SIGSEGV || !active) {
        sighandler_t (*real)(int, sighandler_t) = (sighandler_t (*)(int, sighandler_t)) dlsym(RTLD_NEXT, real_name);
        return real(sig, h);
    }
    sighandler_t before = (app.sa_flags & SA_SIGINFO) ? (sighandler_t) app.sa_sigaction : app.sa_handler;
    memset(&app, 0, sizeof app);
    app.sa_handler = h;
    app.sa_flags = SA_RESTART;
    return before;
}

sighandler_t signal(int sig, sighandler_t h) { return record_handler(sig, h, "signal"); }
sighandler_t sysv_signal(int sig, sighandler_t h) { return record_handler(sig, h, "sysv_signal"); }
sighandler_t bsd_signal(int sig, sighandler_t h) { return record_handler(sig, h, "bsd_signal"); }

/* Interposed: while the mask is active, the program's SIGSEGV handler is recorded, not installed. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (real_sigaction == NULL) real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *)) dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV || !active) return real_sigaction(sig, act, old);
    if (old != NULL) *old = app;
    if (act != NULL) app = *act;
    return 0;
}

__attribute__((constructor)) static void novnni_init(void) {
    struct sigaction sa;
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *)) dlsym(RTLD_NEXT, "sigaction");
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (real_sigaction == NULL || real_sigaction(SIGSEGV, &sa, &app) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        int e = errno;
        fprintf(stderr, "novnni: cannot make CPUID fault here (%s); running with the real CPU features\n", strerror(e));
        if (real_sigaction != NULL) real_sigaction(SIGSEGV, &app, NULL);
        if (getenv("NOVNNI_STRICT") != NULL) _exit(97);
        return;
    }
    active = 1;
    if (getenv("NOVNNI_QUIET") == NULL) {
        fprintf(stderr, "novnni: CPUID reports no AVX-512, VNNI or AMX in this process\n");
    }
}
