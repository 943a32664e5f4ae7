; x86-64 Linux, NASM: write(1, msg, len), exit(0)
global _start
section .data
msg: db "OK", 10
section .text
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, 3
    syscall
    mov eax, 60
    xor edi, edi
    syscall
