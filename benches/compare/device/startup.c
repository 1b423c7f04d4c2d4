/* Minimal Cortex-M start: vector table (initial stack pointer, reset), .data copied, .bss
 * zeroed, the FPU enabled where there is one, then main. */
#include <stdint.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
int main(void);

__attribute__((noreturn)) void reset(void) {
    uint32_t *src = &__data_load__;
    for (uint32_t *dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
    for (uint32_t *dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
#if defined(__ARM_FP)
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10, CP11 full access */
    __asm__ volatile("dsb\n isb");
#endif
    main();
    for (;;) {}
}

static void hang(void) { for (;;) {} }

__attribute__((section(".vectors"), used)) const void *const vectors[16] = {
    &__stack_top__, (void *)reset, (void *)hang, (void *)hang,
    (void *)hang, (void *)hang, (void *)hang, 0, 0, 0, 0,
    (void *)hang, (void *)hang, 0, (void *)hang, (void *)hang,
};
