/* Device cost of one generated-C peer on a QEMU Cortex-M board, the way `lockstep parity --cost`
 * measures Lockstep's: under `qemu-system-arm -icount shift=0` the virtual clock advances 1 ns
 * per guest instruction, so SysTick (processor clock) counts instructions at a fixed rate, which
 * is calibrated against a loop of known length. Built by run.py --device with arm-none-eabi-gcc,
 * linked with one adapter (peer.h: peer_predict1) and rows.h (ROWS test rows of N_FEATURES f32).
 *
 * Prints over semihosting: "instructions=<average per inference, probability included, the
 * timer read subtracted> stack=<peak bytes below main's frame> rows=<n>", then exits. */
#include <stdint.h>

#include "peer.h"
#include "rows.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define MASK 0x00FFFFFFu

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void put(const char *s) { semihost(0x04, s); }

static void put_u32(uint32_t v) {
    char buf[12];
    int i = 11;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    put(&buf[i]);
}

static inline uint32_t now(void) { return MASK - (SYST_CVR & MASK); }
static inline uint32_t since(uint32_t t0) { return (now() - t0) & MASK; }

__attribute__((noinline)) static void spin(uint32_t n) {
    __asm__ volatile(".syntax unified\n1: subs %0, %0, #1\n bne 1b" : "+l"(n) : : "cc");
}

__attribute__((noinline)) static float nothing(const float *row, int n) { (void)row; (void)n; return 0.0f; }

volatile float sink;
extern uint32_t __bss_end__;

int main(void) {
    SYST_RVR = MASK;
    SYST_CVR = 0;
    SYST_CSR = 5; /* enable, processor clock, no interrupt */

    /* Rate: 400,000 extra iterations of exactly two instructions. */
    uint32_t t0 = now();
    spin(100000);
    uint32_t short_ticks = since(t0);
    t0 = now();
    spin(500000);
    uint32_t long_ticks = since(t0);
    uint32_t ticks = long_ticks - short_ticks;
    const uint32_t instructions = 800000;

    /* Paint the stack below this frame (down to the end of .bss, at most 16 KiB). */
    uint32_t marker;
    uint32_t *top = &marker - 16;
    uint32_t *bottom = top - 4096;
    if (bottom < &__bss_end__ + 4) bottom = &__bss_end__ + 4;
    for (uint32_t *p = bottom; p < top; p++) *p = 0xA5C3A5C3u;

    uint64_t total = 0, overhead = 0;
    for (int i = 0; i < ROWS; i++) {
        const float *row = rows[i];
        t0 = now();
        sink = nothing(row, N_FEATURES);
        overhead += since(t0);
        t0 = now();
        sink = peer_predict1(row, N_FEATURES);
        total += since(t0);
    }
    uint32_t *p = bottom;
    while (p < top && *p == 0xA5C3A5C3u) p++;
    uint32_t stack = (uint32_t)((uint8_t *)&marker - (uint8_t *)p);

    uint64_t net = total > overhead ? total - overhead : 0;
    uint64_t per = (net * instructions + (uint64_t)ticks * ROWS / 2) / ((uint64_t)ticks * ROWS);
    put("instructions=");
    put_u32((uint32_t)per);
    put(" stack=");
    put_u32(stack);
    put(" rows=");
    put_u32(ROWS);
    put(" ticks_per_800000=");
    put_u32(ticks);
    put("\n");
    static const uint32_t exit_args[2] = {0x20026, 0};
    semihost(0x18, exit_args);
    for (;;) {}
}
