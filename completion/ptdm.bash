# bash completion for ptdm(1).
#
# Commands and each command's options come from ptdm itself (`ptdm help`,
# `ptdm COMMAND --help`), so this file never goes stale; device arguments
# complete to this host's PCI addresses and to files (images).  Needs only
# bash's own compgen, not the bash-completion helpers.

_ptdm_bdfs()
{
	local d
	for d in /sys/bus/pci/devices/*; do
		[ -e "$d" ] && printf '%s\n' "${d##*/}"
	done
}

_ptdm()
{
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]}
	local prev=${COMP_WORDS[COMP_CWORD-1]} sub=${COMP_WORDS[1]:-}
	local IFS=$'\n'
	COMPREPLY=()

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$("$prog" help 2>/dev/null |
			sed -n 's/^  ptdm \([a-z-]*\).*/\1/p')
--help
--version" -- "$cur"))
		return
	fi
	case $prev in
	--dump)
		COMPREPLY=($(compgen -W $'guest\nhost' -- "$cur"))
		return ;;
	--sizes|--config|-o|--dump-guest|--dump-host|--vfio-user)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--fd|--mpqemu-fd|--xen-domid|--seconds)
		return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$("$prog" "$sub" --help 2>/dev/null |
			grep -o -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur"))
		return
	fi
	case $sub in
	list|version|help)
		[ "$sub" = help ] && [ "$COMP_CWORD" -eq 2 ] &&
			COMPREPLY=($(compgen -W "$("$prog" help 2>/dev/null |
				sed -n 's/^  ptdm \([a-z-]*\).*/\1/p')" -- "$cur"))
		;;
	assignable-add|assignable-remove)
		[ "$COMP_CWORD" -eq 2 ] &&
			COMPREPLY=($(compgen -W "$(_ptdm_bdfs)" -- "$cur"))
		;;
	bench)
		[ "$COMP_CWORD" -eq 2 ] &&
			COMPREPLY=($(compgen -W $'cfg\nvfio-user\nmigration' -- "$cur"))
		;;
	client)
		if [ "${COMP_WORDS[2]}" = --as ]; then
			[ "$COMP_CWORD" -eq 3 ] &&
				COMPREPLY=($(compgen -W $'qemu\ncloud-hypervisor\nlibvfio-user\nspdk' -- "$cur"))
			[ "$COMP_CWORD" -eq 4 ] && COMPREPLY=($(compgen -f -- "$cur"))
			[ "$COMP_CWORD" -eq 5 ] && COMPREPLY=(check)
		elif [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		elif [ "$COMP_CWORD" -eq 3 ]; then
			COMPREPLY=($(compgen -W $'lspci\ninfo\nread\nwrite\nirq\ndma\nmigrate' -- "$cur"))
		elif [ "$COMP_CWORD" -eq 4 ] && [ "${COMP_WORDS[3]}" = migrate ]; then
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	*)	# a DEVICE: an address of this host or an image file
		COMPREPLY=($(compgen -W "$(_ptdm_bdfs)" -- "$cur")
			   $(compgen -f -- "$cur"))
		;;
	esac
}
complete -o filenames -F _ptdm ptdm
