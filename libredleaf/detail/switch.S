/* void rl_resume(void* saved_sp)  -- never returns
 *
 * The other half of switch_and_call (cross_call.hpp): abandons the current
 * stack -- a faulting domain's, or a signal stack -- and returns into the
 * landing address that switch_and_call pushed at saved_sp, which restores
 * %rbp and reports the call as failed.  No signal mask is restored: the fault
 * handlers run with SA_NODEFER, and sigsetjmp(env, 1) would cost a system call
 * on every cross-domain call (design.md §9).
 */
    .text
    .globl rl_resume
    .type rl_resume, @function
    .p2align 4
rl_resume:
    .cfi_startproc
    movq %rdi, %rsp
    ret
    .cfi_endproc
    .size rl_resume, .-rl_resume

    .section .note.GNU-stack,"",@progbits
