# bash completion for secctl(1), the client of secd.
#
# Installed as "secctl" in bash-completion's completions directory, which
# loads it the first time secctl is completed.  It follows secctl's own
# parser (secctl/main.c, secctl/bench.c): options of secctl itself come
# before the command, the command's own options after it.  File names are
# completed for --ca, --cert, --key, --password-file and fingerprint,
# directories for certs --out.  Without bash-completion it still works,
# with plain compgen.

_secctl_files()
{
	if declare -F _filedir >/dev/null 2>&1; then
		_filedir
	else
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}

_secctl_dirs()
{
	if declare -F _filedir >/dev/null 2>&1; then
		_filedir -d
	else
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
	fi
}

# Offer the words of $1 that start with $cur.
_secctl_words()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_secctl()
{
	local cur prev words cword split=false
	if declare -F _init_completion >/dev/null 2>&1; then
		# -s: "--ca=FILE" completes FILE as if written "--ca FILE".
		_init_completion -s || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local global_opts="--server --ca --name --pin --cert --key --account
		--password-file --trace --json --timeout --help --version"
	local commands="ping login balance transfer history send shell certs
		fingerprint crypto-cost tls-memory bench stats"

	# The command is the first word that is neither an option nor an
	# option's argument.
	local i w cmd="" cmdi=0
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-s | --server | --ca | --name | --pin | --cert | --key | \
			-a | --account | --password-file | --timeout)
			((i++))
			;;
		-*) ;;
		*)
			cmd=$w
			cmdi=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		case $prev in
		--ca | --cert | --key | --password-file)
			_secctl_files
			return
			;;
		-s | --server | --name | --pin | -a | --account | --timeout)
			# HOST:PORT, a name, sha256:HEX, an account, seconds.
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			_secctl_words "$global_opts -s -a -h -V"
		else
			_secctl_words "$commands"
		fi
		return
	fi

	# Words after the command that are not options: its arguments.
	local nargs=0
	for ((i = cmdi + 1; i < cword; i++)); do
		[[ ${words[i]} != -* && ${words[i - 1]} != --* ]] && ((nargs++))
	done

	case $cmd in
	transfer)
		# transfer TO AMOUNT [--memo TEXT] [--key KEY]: here --key is the
		# idempotency key, not a file.
		case $prev in
		--memo | --key) return ;;
		esac
		[[ $cur == -* ]] && _secctl_words "--memo --key"
		;;
	history)
		case $prev in
		--limit | --before) return ;;
		esac
		[[ $cur == -* ]] && _secctl_words "--limit --before"
		;;
	certs)
		case $prev in
		--out)
			_secctl_dirs
			return
			;;
		--key-type)
			_secctl_words "ed25519 p256 rsa"
			return
			;;
		--days) return ;;
		esac
		[[ $cur == -* ]] && _secctl_words "--out --key-type --days"
		;;
	fingerprint)
		((nargs == 0)) && _secctl_files
		;;
	bench)
		case $prev in
		--mode)
			_secctl_words "handshake ping balance transfer hold"
			return
			;;
		--connections | --inflight | --duration | --count | --accounts | \
		    --threads | --sources | --source-range | --hold | \
		    --ping-interval)
			return
			;;
		esac
		[[ $cur == -* ]] && _secctl_words "--mode --connections --inflight
			--duration --count --accounts --threads --sources
			--source-range --resume --hold --ping-interval --json"
		;;
	crypto-cost)
		case $prev in
		--time) return ;;
		esac
		[[ $cur == -* ]] && _secctl_words "--time"
		;;
	stats)
		# stats [--metrics HOST:PORT]
		case $prev in
		--metrics) return ;;
		esac
		[[ $cur == -* ]] && _secctl_words "--metrics"
		;;
	*)
		# ping, login, balance, shell: no arguments; send: JSON lines.
		;;
	esac
} &&
	complete -F _secctl secctl
