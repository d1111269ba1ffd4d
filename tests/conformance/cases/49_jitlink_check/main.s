# main = helper() + table[0] + *(table + 8) = 5 + 3 + 11. Every label a check
# names is global and sized: llvm-jitlink's checker finds only global
# symbols, and decodes an instruction from its symbol's content.
	.text
	.globl	main
	.type	main,@function
main:
	pushq	%rbp
	.globl	call_helper
	.type	call_helper,@function
# jitlink-check: decode_operand(call_helper, 0) = helper - next_pc(call_helper)
call_helper:
	callq	helper
	.size	call_helper, .-call_helper
	.globl	load_table
	.type	load_table,@function
# jitlink-check: decode_operand(load_table, 4) = table - next_pc(load_table)
load_table:
	leaq	table(%rip), %rcx
	.size	load_table, .-load_table
	addl	(%rcx), %eax
	movq	8(%rcx), %rdx
	addl	(%rdx), %eax
	popq	%rbp
	retq
	.size	main, .-main

	.globl	helper
	.type	helper,@function
helper:
	movl	$5, %eax
	retq
	.size	helper, .-helper

	.data
	.p2align	3
# jitlink-check: *{4}table = 3
# jitlink-check: *{8}(table + 8) = value
	.globl	table
	.type	table,@object
table:
	.long	3
	.long	0
	.quad	value
	.size	table, 16

	.globl	value
	.p2align	2
# jitlink-check: *{4}value = 11
	.type	value,@object
value:
	.long	11
	.size	value, 4
	.section	.note.GNU-stack,"",@progbits
