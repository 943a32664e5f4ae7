; x86-64 Linux, NASM: read "a b" from stdin, print a*b, "warn" on stderr, exit 3
global _start
section .bss
buf: resb 64
out: resb 32
section .data
warn: db "warn", 10
section .text
_start:
    xor eax, eax            ; read(0, buf, 64)
    xor edi, edi
    lea rsi, [rel buf]
    mov edx, 64
    syscall
    lea rsi, [rel buf]
    call number
    mov rbx, rax
    call number
    imul rax, rbx
    lea rdi, [rel out + 31]
    mov byte [rdi], 10
    mov rcx, 10
.digit:
    xor edx, edx
    div rcx
    add dl, '0'
    dec rdi
    mov [rdi], dl
    test rax, rax
    jnz .digit
    lea rdx, [rel out + 32]
    sub rdx, rdi
    mov rsi, rdi
    mov eax, 1
    mov edi, 1
    syscall
    mov eax, 1
    mov edi, 2
    lea rsi, [rel warn]
    mov edx, 5
    syscall
    mov eax, 60
    mov edi, 3
    syscall
number:                     ; rsi -> digits (after spaces); returns rax, advances rsi
    xor eax, eax
.skip:
    movzx ecx, byte [rsi]
    cmp cl, '0'
    jae .num
    inc rsi
    jmp .skip
.num:
    movzx ecx, byte [rsi]
    sub ecx, '0'
    cmp ecx, 9
    ja .done
    imul rax, rax, 10
    add rax, rcx
    inc rsi
    jmp .num
.done:
    ret
