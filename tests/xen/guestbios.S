/*
 * guestbios.S - a 64 KiB "BIOS" for the HVM guest of tests/xen/run.sh's
 * real-device scenario (hvmloader loads it so that it ends at 1 MiB and
 * enters it at f000:fff0 after placing the BARs).  It uses two devices of
 * the outer QEMU that dom0 passes through (one ptdm behind ptdm-xen-dm, or
 * stock xen-pci-passthrough for the comparison).
 * edu at 00:03.0:
 *   BAR0 from config space (0xcf8/0xcfc: ioreqs to ptdm),
 *   liveness and factorial through BAR0 (Xen's p2m mapping: no ioreqs),
 *   a DMA from guest RAM into edu and back (the guest's IOMMU context),
 *   an MSI: the guest programs edu's MSI capability (ptdm binds a pirq),
 *   edu raises it, Xen delivers it to this guest's vector 0x40.
 * e1000e at 00:04.0:
 *   registers through BAR0 (mapped), the MSI-X table entry written
 *   through BAR3's table page (trapped: ptdm's emulated table), MSI-X
 *   enabled; the NIC's RXQ0 cause then arrives on vector 0x41 (a pirq
 *   for MSI-X entry 0, bound by ptdm).
 * Each result is a line on Xen's debug port 0xe9 ("(dN) guestbios: ...").
 * Then it prints both devices' config space ("cfg SS RR DWORD") and
 * watches slot 4's ID register, a line "slot4 XXXXXXXX" at each change
 * (xl pci-detach / pci-attach from dom0).
 * Build: as --32; ld -m elf_i386 -Ttext=0 -e _start --oformat binary.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	cs lgdtl (gdtdesc)
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$0x08, $(pm32 + 0xf0000)

	.code32
pm32:	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x7000, %esp
	mov	$(m_start + 0xf0000), %esi
	call	puts
	/* BAR0 of 00:03.0 */
	mov	$0x1810, %edi
	call	cfg_rd
	and	$0xfffffff0, %eax
	mov	%eax, %ebx
	test	%ebx, %ebx
	jz	nobar
	/* memory decode and bus mastering on */
	mov	$0x1804, %edi
	call	cfg_rd
	or	$0x6, %eax
	call	cfg_wr

	/* liveness: edu answers the complement */
	movl	$0x12345678, 4(%ebx)
	movl	4(%ebx), %eax
	mov	$(m_live_ok + 0xf0000), %esi
	cmp	$0xedcba987, %eax
	je	1f
	mov	$(m_live_bad + 0xf0000), %esi
1:	call	puts

	/* factorial of 5 */
	movl	$5, 8(%ebx)
	mov	$20000000, %ecx
2:	testl	$1, 0x20(%ebx)
	jz	3f
	loop	2b
3:	movl	8(%ebx), %eax
	mov	$(m_fact_ok + 0xf0000), %esi
	cmp	$120, %eax
	je	4f
	mov	$(m_fact_bad + 0xf0000), %esi
4:	call	puts

	/* DMA: RAM 0x80000 -> edu's buffer (0x40000) -> RAM 0x81000 */
	movl	$0x5a5aa5a5, 0x80000
	movl	$0x0badcafe, 0x80004
	movl	$0, 0x81000
	movl	$0, 0x81004
	movl	$0x80000, 0x80(%ebx)
	movl	$0x40000, 0x88(%ebx)
	movl	$8, 0x90(%ebx)
	movl	$1, 0x98(%ebx)		/* start, RAM to edu */
	call	dma_wait
	movl	$0x40000, 0x80(%ebx)
	movl	$0x81000, 0x88(%ebx)
	movl	$8, 0x90(%ebx)
	movl	$3, 0x98(%ebx)		/* start, edu to RAM */
	call	dma_wait
	mov	$(m_dma_bad + 0xf0000), %esi
	cmpl	$0x5a5aa5a5, 0x81000
	jne	5f
	cmpl	$0x0badcafe, 0x81004
	jne	5f
	mov	$(m_dma_ok + 0xf0000), %esi
5:	call	puts

	/* IDT at 0x60000: every vector ignored (EOI), 0x40 sets the flag */
	mov	$0x60000, %edi
	mov	$256, %ecx
	mov	$(ignore + 0xf0000), %eax
11:	call	gate
	loop	11b
	mov	$(0x60000 + 0x40 * 8), %edi
	mov	$(on_msi + 0xf0000), %eax
	call	gate
	mov	$(on_msix + 0xf0000), %eax	/* 0x41, the next gate */
	call	gate
	mov	$(on_intx + 0xf0000), %eax	/* 0x42 */
	call	gate
	mov	$(0x60000 + 0x50 * 8), %edi	/* 0x50-0x53: xhci's MSI */
	mov	$(on_x0 + 0xf0000), %eax
	call	gate
	mov	$(on_x1 + 0xf0000), %eax
	call	gate
	mov	$(on_x2 + 0xf0000), %eax
	call	gate
	mov	$(on_x3 + 0xf0000), %eax
	call	gate
	lidtl	(idtdesc + 0xf0000)
	mov	$0xff, %al		/* legacy PIC: all masked */
	outb	%al, $0x21
	outb	%al, $0xa1
	movl	$0x1ff, 0xfee000f0	/* local APIC on, spurious vector 0xff */
	/* edu's MSI capability (at 0x40): APIC 0, vector 0x40, enable */
	mov	$0x1840, %edi
	call	cfg_rd
	mov	$(m_nomsi + 0xf0000), %esi
	cmp	$0x05, %al
	jne	13f
	mov	$0x1844, %edi
	mov	$0xfee00000, %eax
	call	cfg_wr
	mov	$0x1848, %edi
	xor	%eax, %eax
	call	cfg_wr
	mov	$0x184c, %edi
	mov	$0x40, %eax
	call	cfg_wr
	mov	$0x1840, %edi
	call	cfg_rd
	or	$0x10000, %eax		/* Message Control: MSI Enable */
	call	cfg_wr
	movl	$0, 0x7100
	sti
	movl	$1, 0x60(%ebx)		/* edu: raise its interrupt */
	mov	$200000000, %ecx
12:	cmpl	$1, 0x7100
	je	14f
	loop	12b
	mov	$(m_msi_bad + 0xf0000), %esi
	jmp	13f
14:	mov	$(m_msi_ok + 0xf0000), %esi
13:	cli
	movl	$1, 0x64(%ebx)		/* edu: acknowledge */
	call	puts

	/* edu's INTx: MSI off (ptdm binds INTx), the guest IOAPIC's pin
	 * for 00:03.0's pin (Xen: GSI = ((dev << 2) + (dev >> 3) + intx)
	 * % 32 + 16) level-triggered to vector 0x42; the handler acks edu
	 * (which then lowers the line), then EOIs */
	mov	$0x1840, %edi
	call	cfg_rd
	and	$0xfffeffff, %eax	/* Message Control: MSI Enable off */
	call	cfg_wr
	mov	$0x183c, %edi
	call	cfg_rd
	shr	$8, %eax
	and	$0xff, %eax		/* interrupt pin, 1 = INTA */
	mov	$(m_nointx + 0xf0000), %esi
	jz	33f
	add	$((3 << 2) + (3 >> 3) - 1), %eax
	and	$31, %eax
	add	$16, %eax
	mov	%eax, 0x7114		/* the GSI */
	lea	0x11(,%eax,2), %eax	/* redirection entry, high dword */
	mov	%eax, 0xfec00000
	movl	$0, 0xfec00010		/* destination APIC 0 */
	dec	%eax
	mov	%eax, 0xfec00000
	movl	$0x8042, 0xfec00010	/* level, unmasked, vector 0x42 */
	mov	%ebx, 0x710c
	movl	$0, 0x7108
	sti
	movl	$1, 0x60(%ebx)		/* edu: raise (INTx: MSI is off) */
	mov	$200000000, %ecx
31:	cmpl	$1, 0x7108
	je	32f
	loop	31b
	mov	$(m_intx_bad + 0xf0000), %esi
	jmp	33f
32:	mov	$(m_intx_ok + 0xf0000), %esi
33:	cli
	movl	$1, 0x64(%ebx)
	movl	$0x10000, 0xfec00010	/* masked again */
	call	puts
	mov	$(m_gsi + 0xf0000), %esi
	call	puts
	mov	0x7114, %eax		/* (puts leaves %eax 0) */
	mov	$2, %ecx
	call	puthexn
	call	putnl

	/* ---- e1000e at 00:04.0: BAR0 registers, BAR3 MSI-X ---- */
nic:	mov	$0x2010, %edi
	call	cfg_rd
	and	$0xfffffff0, %eax
	mov	%eax, %ebx
	mov	$0x201c, %edi
	call	cfg_rd
	and	$0xfffffff0, %eax
	mov	%eax, %ebp
	mov	$(m_nic_nobar + 0xf0000), %esi
	test	%ebx, %ebx
	jz	23f
	test	%ebp, %ebp
	jz	23f
	mov	$0x2004, %edi		/* memory decode, bus master */
	call	cfg_rd
	or	$0x6, %eax
	call	cfg_wr
	/* a register through the mapping: IVAR, RXQ0 -> MSI-X vector 0 */
	movl	$0x8, 0xe4(%ebx)
	mov	$(m_nic_reg_ok + 0xf0000), %esi
	cmpl	$0x8, 0xe4(%ebx)
	je	20f
	mov	$(m_nic_reg_bad + 0xf0000), %esi
20:	call	puts
	/* MSI-X table entry 0 (the trapped page): APIC 0, vector 0x41 */
	movl	$0xfee00000, 0(%ebp)
	movl	$0, 4(%ebp)
	movl	$0x41, 8(%ebp)
	movl	$0, 12(%ebp)
	mov	$0x20a0, %edi		/* MSI-X capability at 0xa0 */
	call	cfg_rd
	mov	$(m_nic_nomsix + 0xf0000), %esi
	cmp	$0x11, %al
	jne	23f
	or	$0x80000000, %eax	/* Message Control: MSI-X Enable */
	and	$0xbfffffff, %eax	/* and no Function Mask */
	call	cfg_wr
	movl	$0x00100000, 0xd0(%ebx)	/* IMS: RXQ0 */
	movl	$0, 0x7104
	sti
	movl	$0x00100000, 0xc8(%ebx)	/* ICS: raise RXQ0 */
	mov	$200000000, %ecx
21:	cmpl	$1, 0x7104
	je	22f
	loop	21b
	mov	$(m_nic_msix_bad + 0xf0000), %esi
	jmp	23f
22:	mov	$(m_nic_msix_ok + 0xf0000), %esi
23:	cli
	call	puts

	/* ---- xHCI (NEC, MSI only, 4 interrupters) at 00:06.0 ----
	 * MSI with Multiple Message Enable 5 (32 vectors), more than the
	 * device is capable of: the guest reads back what it got; then interrupters
	 * 0, 1 and 3 raise their vectors: 0x50, 0x51 and 0x53 (pirqs of
	 * ptdm's MULTI_MSI block).  An interrupter raises when the guest moves its
	 * event ring dequeue pointer to a slot the ring has not reached
	 * (QEMU's ERDP write), so no command or transfer is needed. */
	mov	$0x3000, %edi
	call	cfg_rd
	mov	$(m_x_none + 0xf0000), %esi
	cmp	$0x01941033, %eax
	jne	43f
	mov	$0x3010, %edi
	call	cfg_rd
	and	$0xfffffff0, %eax
	mov	%eax, %ebx
	mov	$0x3014, %edi
	call	cfg_rd
	mov	$(m_x_nobar + 0xf0000), %esi
	test	%eax, %eax
	jnz	43f
	test	%ebx, %ebx
	jz	43f
	mov	$0x3004, %edi		/* memory decode, bus master */
	call	cfg_rd
	or	$0x6, %eax
	call	cfg_wr
	mov	$0x3070, %edi		/* MSI capability at 0x70, 64-bit */
	call	cfg_rd
	mov	$(m_x_nomsi + 0xf0000), %esi
	cmp	$0x05, %al
	jne	43f
	mov	$0x3074, %edi
	mov	$0xfee00000, %eax
	call	cfg_wr
	mov	$0x3078, %edi
	xor	%eax, %eax
	call	cfg_wr
	mov	$0x307c, %edi
	mov	$0x50, %eax
	call	cfg_wr
	mov	$0x3070, %edi
	call	cfg_rd
	and	$0xff8fffff, %eax
	or	$0x00510000, %eax	/* MSI Enable, Multiple Message Enable 5 */
	call	cfg_wr
	mov	$(m_x_ctl + 0xf0000), %esi
	call	puts
	call	cfg_rd
	shr	$16, %eax
	mov	$4, %ecx
	call	puthexn
	call	putnl
	movl	$0, 0x7110
	mov	0(%ebx), %eax		/* CAPLENGTH: operational registers */
	and	$0xff, %eax
	mov	%eax, 0x712c
	movl	$0x5, (%ebx,%eax)	/* USBCMD: Run/Stop, Interrupter Enable */
	mov	0x18(%ebx), %ebp	/* RTSOFF: runtime registers */
	and	$0xffffffe0, %ebp
	add	%ebx, %ebp
	sti
	xor	%ecx, %ecx
	call	xhci_raise
	mov	$1, %ecx
	call	xhci_raise
	mov	$3, %ecx
	call	xhci_raise
	mov	$50000000, %ecx
41:	cmpl	$0xb, 0x7110		/* vectors 0x50, 0x51 and 0x53 */
	je	42f
	loop	41b
42:	cli
	/* what the controller says: USBSTS, interrupter 1's IMAN and ERDP
	 * (IMAN.IP clear and ERDP.EHB set: it sent its MSI) */
	mov	0x712c, %eax
	mov	4(%ebx,%eax), %edx	/* USBSTS */
	shl	$16, %edx
	mov	(%ebx,%eax), %ecx	/* USBCMD */
	mov	%cx, %dx
	mov	%edx, 0x7120		/* USBSTS << 16 | USBCMD */
	mov	0x40(%ebp), %eax
	mov	%eax, 0x7124
	mov	0x58(%ebp), %eax
	mov	%eax, 0x7128
	mov	$(m_x_vec + 0xf0000), %esi
	call	puts
	mov	0x7110, %eax
	mov	$2, %ecx
	call	puthexn
	call	putnl
	mov	$(m_x_sts + 0xf0000), %esi
	call	puts
	mov	0x7120, %eax
	call	puthex
	mov	$(m_x_iman + 0xf0000), %esi
	call	puts
	mov	0x7124, %eax
	call	puthex
	mov	$(m_x_erdp + 0xf0000), %esi
	call	puts
	mov	0x7128, %eax
	call	puthex
	mov	$(m_x_msi_bad + 0xf0000), %esi
	cmpl	$0xb, 0x7110
	jne	43f
	mov	$(m_x_msi_ok + 0xf0000), %esi
43:	call	puts

done:	mov	$(m_done + 0xf0000), %esi
	call	puts
	/* what the guest sees: the config space of slots 3 and 4, a line
	 * "guestbios: cfg SS RR XXXXXXXX" per dword (run.sh's xen_pt table) */
	mov	$0x1800, %edi
16:	mov	$(m_cfg + 0xf0000), %esi
	call	puts
	mov	%edi, %eax
	shr	$11, %eax
	mov	$2, %ecx
	call	puthexn
	call	putsp
	mov	%edi, %eax
	and	$0xff, %eax
	mov	$2, %ecx
	call	puthexn
	call	putsp
	call	cfg_rd
	mov	$8, %ecx
	call	puthexn
	call	putnl
	add	$4, %edi
	test	$0xff, %edi
	jnz	16b
	cmp	$0x2100, %edi
	jae	17f
	mov	$0x2000, %edi
	jmp	16b
17:
	/* then watch slot 4 (xl pci-detach / pci-attach from dom0): each
	 * change of its vendor:device dword is a line "slot4: XXXXXXXX" */
	mov	$0xdeadbeef, %ebp
6:	mov	$0x2000, %edi
	call	cfg_rd
	cmp	%eax, %ebp
	je	12f
	mov	%eax, %ebp
	mov	$(m_slot4 + 0xf0000), %esi
	call	puts
	mov	%ebp, %eax		/* puts leaves %al 0 */
	call	puthex
12:	mov	$20000000, %ecx
13:	pause
	loop	13b
	jmp	6b

nobar:	mov	$(m_nobar + 0xf0000), %esi
	call	puts
	jmp	done

/* %eax = handler: an interrupt gate at %edi, %edi += 8 */
gate:	mov	%eax, %edx
	and	$0xffff, %edx
	or	$0x00080000, %edx
	mov	%edx, (%edi)
	mov	%eax, %edx
	and	$0xffff0000, %edx
	or	$0x8e00, %edx
	mov	%edx, 4(%edi)
	add	$8, %edi
	ret

/* config dword at %edi = dev << 11 | reg: read into / write from %eax */
cfg_rd:	push	%eax
	lea	0x80000000(%edi), %eax
	mov	$0xcf8, %dx
	outl	%eax, %dx
	pop	%eax
	mov	$0xcfc, %dx
	inl	%dx, %eax
	ret
cfg_wr:	push	%eax
	lea	0x80000000(%edi), %eax
	mov	$0xcf8, %dx
	outl	%eax, %dx
	pop	%eax
	mov	$0xcfc, %dx
	outl	%eax, %dx
	ret

/* xHCI interrupter %ecx (runtime registers at %ebp): a one-segment event
 * ring of 16 TRBs in guest RAM (table at 0x84000 + 0x40 * n, ring at
 * 0x85000 + 0x100 * n), interrupts on, then ERDP one TRB ahead */
xhci_raise:
	mov	%ecx, %eax
	shl	$6, %eax
	lea	0x84000(%eax), %edi	/* segment table */
	shl	$2, %eax
	lea	0x85000(%eax), %edx	/* the ring */
	mov	%edx, 0(%edi)
	movl	$0, 4(%edi)
	movl	$16, 8(%edi)
	movl	$0, 12(%edi)
	mov	%ecx, %eax
	shl	$5, %eax
	lea	0x20(%ebp,%eax), %eax	/* interrupter n */
	movl	$0x2, 0(%eax)		/* IMAN: Interrupt Enable */
	movl	$1, 8(%eax)		/* ERSTSZ */
	mov	%edi, 0x10(%eax)	/* ERSTBA */
	movl	$0, 0x14(%eax)
	movl	$0, 0x1c(%eax)
	add	$0x18, %edx		/* ERDP: TRB 1 | Event Handler Busy */
	mov	%edx, 0x18(%eax)
	ret

on_x0:	orl	$1, 0x7110
	jmp	ignore
on_x1:	orl	$2, 0x7110
	jmp	ignore
on_x2:	orl	$4, 0x7110
	jmp	ignore
on_x3:	orl	$8, 0x7110
	jmp	ignore
on_intx:
	push	%eax
	movl	$1, 0x7108
	mov	0x710c, %eax
	movl	$1, 0x64(%eax)		/* edu: acknowledge, INTx goes low */
	pop	%eax
	jmp	ignore
on_msi:	movl	$1, 0x7100
	jmp	ignore
on_msix:
	movl	$1, 0x7104
ignore:	movl	$0, 0xfee000b0		/* EOI */
	iret

dma_wait:
	mov	$100000000, %ecx
7:	testl	$1, 0x98(%ebx)
	jz	8f
	loop	7b
8:	ret

/* the low %ecx hex digits of %eax on port 0xe9 */
puthexn:
	mov	%eax, %ebx
	push	%ecx
	neg	%ecx
	add	$8, %ecx
	shl	$2, %ecx
	shl	%cl, %ebx
	pop	%ecx
	mov	$0xe9, %dx
14:	rol	$4, %ebx
	mov	%ebx, %eax
	and	$0xf, %eax
	add	$'0', %al
	cmp	$'9', %al
	jbe	15f
	add	$('a' - '9' - 1), %al
15:	outb	%al, %dx
	loop	14b
	ret
putsp:	mov	$' ', %al
	jmp	18f
putnl:	mov	$'\n', %al
18:	mov	$0xe9, %dx
	outb	%al, %dx
	ret
/* %eax as 8 hex digits and a newline */
puthex:	mov	$8, %ecx
	call	puthexn
	jmp	putnl

puts:	mov	$0xe9, %dx
9:	lodsb
	test	%al, %al
	jz	10f
	outb	%al, %dx
	jmp	9b
10:	ret

	.align 8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code 32-bit flat */
	.quad	0x00cf92000000ffff	/* 0x10 data 32-bit flat */
gdtdesc:
	.word	23
	.long	gdt + 0xf0000
idtdesc:
	.word	256 * 8 - 1
	.long	0x60000
m_start:	.asciz "guestbios: start\n"
m_nobar:	.asciz "edu: BAR0 not assigned\n"
m_live_ok:	.asciz "edu: liveness ok\n"
m_live_bad:	.asciz "edu: liveness FAILED\n"
m_fact_ok:	.asciz "edu: factorial ok\n"
m_fact_bad:	.asciz "edu: factorial FAILED\n"
m_dma_ok:	.asciz "edu: dma ok\n"
m_dma_bad:	.asciz "edu: dma FAILED\n"
m_nomsi:	.asciz "edu: no MSI capability at 0x40\n"
m_msi_ok:	.asciz "edu: msi ok\n"
m_msi_bad:	.asciz "edu: msi FAILED\n"
m_nic_nobar:	.asciz "nic: BARs not assigned\n"
m_nic_reg_ok:	.asciz "nic: registers ok\n"
m_nic_reg_bad:	.asciz "nic: registers FAILED\n"
m_nic_nomsix:	.asciz "nic: no MSI-X capability at 0xa0\n"
m_nic_msix_ok:	.asciz "nic: msi-x ok\n"
m_nic_msix_bad:	.asciz "nic: msi-x FAILED\n"
m_nointx:	.asciz "edu: no interrupt pin\n"
m_intx_ok:	.asciz "edu: intx ok\n"
m_intx_bad:	.asciz "edu: intx FAILED\n"
m_gsi:		.asciz "edu: intx through GSI "
m_x_none:	.asciz "xhci: none at 00:06.0\n"
m_x_nobar:	.asciz "xhci: BAR0 not assigned below 4 GiB\n"
m_x_nomsi:	.asciz "xhci: no MSI capability at 0x70\n"
m_x_ctl:	.asciz "xhci: msi control "
m_x_sts:	.asciz "xhci: USBSTS.USBCMD "
m_x_iman:	.asciz "xhci: interrupter 1 IMAN "
m_x_erdp:	.asciz "xhci: interrupter 1 ERDP "
m_x_vec:	.asciz "xhci: vectors seen "
m_x_msi_ok:	.asciz "xhci: multi-message msi ok\n"
m_x_msi_bad:	.asciz "xhci: multi-message msi FAILED\n"
m_done:		.asciz "guestbios: done\n"
m_slot4:	.asciz "guestbios: slot4 "
m_cfg:		.asciz "guestbios: cfg "

	.code16
	.org	0xfff0
reset:	ljmp	$0xf000, $_start
	.org	0x10000
