; x86-64 Linux, NASM: write(1, msg, len), exit(0)
global _start
section .data
msg: db "Hello, World!", 10
len: equ $ - msg
section .text
_start:
    mov eax, 1
    mov edi, 1
    lea rsi, [rel msg]
    mov edx, len
    syscall
    mov eax, 60
    xor edi, edi
    syscall
