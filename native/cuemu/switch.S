// cuemu fiber context switch, x86-64 System V.
// Saves only what the ABI makes callee-saved: rbx, rbp, r12-r15, rsp, the
// MXCSR control bits and the x87 control word.

        .text

// void cuemu_switch(void** save_sp /* rdi */, void* new_sp /* rsi */)
        .globl  cuemu_switch
        .hidden cuemu_switch
        .type   cuemu_switch, @function
        .p2align 4
cuemu_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   cuemu_switch, .-cuemu_switch

// First code a new fiber runs (reached by the `ret` above on a fresh stack):
// r12 = argument, r13 = function; the function must never return.
        .globl  cuemu_fiber_start
        .hidden cuemu_fiber_start
        .type   cuemu_fiber_start, @function
        .p2align 4
cuemu_fiber_start:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        movq    %r12, %rdi
        andq    $-16, %rsp
        callq   *%r13
        ud2
        .cfi_endproc
        .size   cuemu_fiber_start, .-cuemu_fiber_start

        .section .note.GNU-stack,"",@progbits
