# bash completion for suitctl(1): nouns, verbs, options, -o formats.
# Installed by `make install` into share/bash-completion/completions.
_suitctl()
{
	local cur prev noun verb i w
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	local nouns="status payload manifest device deploy deployment release key events audit webhook"
	local globals="--url --api-key-file --cacert --profile --output --quiet --limit --page-size --help --version"

	case $prev in
	-o | --output)
		COMPREPLY=($(compgen -W "json ndjson table" -- "$cur"))
		return
		;;
	--api-key-file | --cacert | --key | --payload | --dependency | --report-key | --file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--url | --profile | --limit | --page-size | --name | --group | --tag | --device | \
		--stages | --timeout | --reason | --role | --types)
		return
		;;
	esac
	# The noun and verb: the first two words that are not options (or
	# option values).
	noun= verb=
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-o | --output | --url | --api-key-file | --cacert | --profile | --limit | --page-size)
			((i++))
			continue
			;;
		-*) continue ;;
		esac
		if [[ -z $noun ]]; then
			noun=$w
		elif [[ -z $verb ]]; then
			verb=$w
		fi
	done
	if [[ -z $noun ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$nouns" -- "$cur"))
		fi
		return
	fi
	local verbs= opts=
	case $noun in
	payload) verbs="upload list show delete" opts="--name" ;;
	manifest)
		verbs="create upload list show delete envelope"
		opts="--vendor-id --class-id --sever --file --key --payload --vendor-domain --class-info --sequence --uri --component --description --integrated --output --dependency --dependency-uri --dependency-prefix"
		;;
	device)
		verbs="add list show update delete token reports import export"
		opts="--dry-run --generate-tokens --group --no-group --tag --no-tags --vendor-id --class-id --attributes --report-key --no-report-key --grace --seen-since --not-seen-since --sequence --sequence-below --assignment-state"
		;;
	deployment)
		verbs="list show devices pause resume cancel retry delete watch"
		opts="--status --manifest --state --reason --acknowledge --timeout"
		;;
	key) verbs="list create revoke" opts="--role --expires-in" ;;
	webhook)
		verbs="list show create update delete deliveries retry"
		opts="--url --types --description --disabled --disable --enable --event"
		;;
	deploy | release)
		verb=- opts="--group --tag --device --name --stages --success-threshold --failure-threshold --device-timeout --wait --timeout"
		[[ $noun == release ]] && opts="$opts --key --vendor-domain --class-info --sequence --uri --component --description"
		;;
	events) verb=- opts="--types --deployment --device --after" ;;
	audit) verb=- opts="--actor --action --subject --since --until --after" ;;
	status) verb=- ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))
	elif [[ -z $verb ]]; then
		COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
	elif [[ $noun == payload && $verb == upload ]] || [[ $noun == manifest && $verb == upload ]] ||
		[[ $noun == release ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _suitctl suitctl
