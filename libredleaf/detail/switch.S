/* Stack switching for cross-domain calls (design.md §3, §9).
 *
 * int rl_switch_call(void* stack_top, void (*fn)(void*), void* arg, void** saved_sp)
 *   Pushes the callee-saved registers, stores the stack pointer in *saved_sp
 *   (the continuation), switches to stack_top (or stays on the current stack
 *   when it is null), calls fn(arg), switches back and returns 0.
 *
 * void rl_resume(void* saved_sp)  -- never returns
 *   Abandons the current stack and returns 1 from the rl_switch_call that
 *   stored saved_sp.  Used by the fault handler, rl::panic and unwinding.
 *
 * No signal mask is saved: sigsetjmp(env, 1) costs a system call per call.
 */
    .text
    .globl rl_switch_call
    .type rl_switch_call, @function
    .p2align 4
rl_switch_call:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    movq %rcx, %r12          /* keep saved_sp across the call */
    movq %rsp, (%rcx)
    testq %rdi, %rdi
    jz 1f
    movq %rdi, %rsp          /* stack_top is 16-byte aligned */
    jmp 2f
1:  subq $8, %rsp            /* 6 pushes + return address: realign to 16 */
2:  movq %rdx, %rdi
    callq *%rsi
    movq (%r12), %rsp
    xorl %eax, %eax
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    ret
    .cfi_endproc
    .size rl_switch_call, .-rl_switch_call

    .globl rl_resume
    .type rl_resume, @function
    .p2align 4
rl_resume:
    .cfi_startproc
    movq %rdi, %rsp
    movl $1, %eax
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size rl_resume, .-rl_resume

    .section .note.GNU-stack,"",@progbits
