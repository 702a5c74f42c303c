# shellcheck shell=bash
# bash completion for uva_container                        -*- shell-script -*-
#
# Install as $(BASHCOMPDIR)/uva_container (make install does), or source it.
# Self-contained: it does not need the bash-completion package, and it reads
# only COMP_WORDS and COMP_CWORD, so it can be tested by setting those and
# calling _uva_container.

# Reassembles COMP_WORDS split at '=' and ':' (both are in COMP_WORDBREAKS by
# default): "--network=sl" arrives as "--network" "=" "sl", and
# "-v /a:/b" as "-v" "/a" ":" "/b".  Sets _uva_words and _uva_cword.
_uva_container_words() {
    _uva_words=()
    _uva_cword=0
    local i w n=-1 glue=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        if ((n >= 0)) && [[ -n $w && -z ${w//[=:]/} ]]; then
            _uva_words[n]+=$w
            glue=1
        elif ((glue)); then
            _uva_words[n]+=$w
            glue=0
        else
            _uva_words[++n]=$w
        fi
        ((i == COMP_CWORD)) && _uva_cword=$n
    done
    # The cursor may sit on an empty word past the last one.
    ((COMP_CWORD >= ${#COMP_WORDS[@]})) && _uva_cword=$((n + 1)) &&
        _uva_words[n + 1]=
    return 0
}

# COMPREPLY from the candidates "$2" for the word "$1", with the part of $1
# that readline does not replace (up to its last '=' or ':') cut off again.
_uva_container_reply() {
    local cur=$1 cand=$2
    mapfile -t COMPREPLY < <(compgen -W "$cand" -- "$cur")
    _uva_container_trim "$cur"
}

_uva_container_trim() {
    local cur=$1 head='' i
    local breaks=${COMP_WORDBREAKS-=:}
    if [[ $breaks == *:* && $cur == *:* ]]; then
        head=${cur%"${cur##*:}"}
    fi
    if [[ $breaks == *=* && ${cur#"$head"} == *=* ]]; then
        local rest=${cur#"$head"}
        head+=${rest%"${rest##*=}"}
    fi
    [[ -n $head ]] || return 0
    for i in "${!COMPREPLY[@]}"; do
        COMPREPLY[i]=${COMPREPLY[i]#"$head"}
    done
}

_uva_container_dirs() {
    local cur=$1 IFS=$'\n'
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$cur")
}

_uva_container_files() {
    local cur=$1 IFS=$'\n'
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

_uva_container_nospace() {
    compopt -o nospace 2>/dev/null
}

# The value of a run option: $1 the option, $2 the value typed so far, $3 the
# whole word to trim completions against.
_uva_container_run_value() {
    local opt=$1 val=$2 word=$3
    case $opt in
        --network)
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "slirp none" -- "$val")
            _uva_container_trim "$word"
            ;;
        --port-driver)
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "splice slirp bypass" -- "$val")
            _uva_container_trim "$word"
            ;;
        --outbound)
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "slirp bypass" -- "$val")
            _uva_container_trim "$word"
            ;;
        --restart)
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "no on-failure on-failure:" -- "$val")
            _uva_container_trim "$word"
            ;;
        --userns)
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "single auto" -- "$val")
            _uva_container_trim "$word"
            ;;
        --pids-limit)
            # A number, or no cap.
            mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -W "unlimited" -- "$val")
            _uva_container_trim "$word"
            ;;
        -w | --workdir | --tmp)
            if [[ $word == "$val" ]]; then
                _uva_container_dirs "$val"
            else
                local IFS=$'\n'
                mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -d -- "$val")
                _uva_container_trim "$word"
                COMPREPLY=("${COMPREPLY[@]/%//}")
                _uva_container_nospace
            fi
            ;;
        -v | --volume)
            # HOST_PATH:/CONTAINER_PATH[:ro]: host paths, then nothing to
            # guess inside the container, then the mode.
            case $val in
                *:*:*)
                    mapfile -t COMPREPLY < <(compgen -P "${word%"${val##*:}"}" -W "ro rw" -- "${val##*:}")
                    _uva_container_trim "$word"
                    ;;
                *:*)
                    COMPREPLY=()
                    ;;
                *)
                    # A host directory or file: "/" after a directory, ":"
                    # after a file, as the container path comes next.
                    local IFS=$'\n' f pre=${word%"$val"}
                    COMPREPLY=()
                    for f in $(compgen -f -- "$val"); do
                        [[ -d $f ]] && f+=/ || f+=:
                        COMPREPLY+=("$pre$f")
                    done
                    _uva_container_trim "$word"
                    _uva_container_nospace
                    ;;
            esac
            ;;
        -e | --env)
            if [[ $val != *=* ]]; then
                mapfile -t COMPREPLY < <(compgen -P "${word%"$val"}" -S = -e -- "$val")
                _uva_container_trim "$word"
                _uva_container_nospace
            fi
            ;;
        *)
            # -p, --name, --hostname, --shm-size: free text.
            COMPREPLY=()
            ;;
    esac
}

_uva_container() {
    local _uva_words _uva_cword
    _uva_container_words
    local cur=${_uva_words[_uva_cword]} prev=${_uva_words[_uva_cword - 1]}
    local top="run up ps logs exec stop down rm check kube
        --print-default-spec --help -h --version"
    local run_opts="--publish -p --name --workdir -w --tmp --env -e
        --hostname --network --port-driver --outbound --restart --pids-limit
        --sockets-limit --shm-size --userns --rm --stop-timeout --interactive -i
        --tty -t --detach -d --wait-timeout --ready-http --ready-tcp
        --volume -v --help -h --"
    COMPREPLY=()

    if ((_uva_cword == 1)); then
        _uva_container_reply "$cur" "$top"
        return 0
    fi

    case ${_uva_words[1]} in
        up | down)
            case $prev in
                --wait-timeout | --exit-code-from | -t) return 0 ;;
            esac
            if [[ $cur == -* ]]; then
                if [[ ${_uva_words[1]} == up ]]; then
                    _uva_container_reply "$cur" "-d --detach --wait-timeout --exit-code-from"
                else
                    _uva_container_reply "$cur" "-t --time"
                fi
            else
                _uva_container_files "$cur"
            fi
            return 0
            ;;
        ps)
            if [[ $prev == --format ]]; then
                _uva_container_reply "$cur" "json table"
            else
                _uva_container_reply "$cur" "--format"
            fi
            return 0
            ;;
        logs | stop | exec | rm)
            # The running containers' names, as ps lists them.
            if [[ $cur == -* ]]; then
                case ${_uva_words[1]} in
                    logs) _uva_container_reply "$cur" "-f --follow --tail" ;;
                    stop) _uva_container_reply "$cur" "-t --time" ;;
                    exec) _uva_container_reply "$cur" "-i -t -e -w --" ;;
                esac
            else
                local names
                names=$("${_uva_words[0]}" ps 2>/dev/null | awk 'NR > 1 { print $1 }')
                _uva_container_reply "$cur" "$names"
            fi
            return 0
            ;;
        kube)
            # kube [--image [NAME=]IMAGE]... [FILE]
            if [[ $prev == --image ]]; then
                COMPREPLY=()
            elif [[ $cur == -* ]]; then
                _uva_container_reply "$cur" "--image --help"
            else
                _uva_container_files "$cur"
            fi
            return 0
            ;;
        run) ;;
        *) return 0 ;;
    esac

    # run: options until "--" or the first word that is not an option
    # (GOption in strict POSIX mode); from there on, COMMAND and its ARGs.
    local i w cmd=0
    for ((i = 2; i < _uva_cword; i++)); do
        w=${_uva_words[i]}
        case $w in
            --)
                cmd=$((i + 1))
                break
                ;;
            -p | --publish | --name | -w | --workdir | --tmp | -e | --env | \
                --hostname | --network | --port-driver | --outbound | --restart | \
                --pids-limit | --sockets-limit | --shm-size | --userns | -v | \
                --volume | --stop-timeout | --wait-timeout)
                ((i++)) # its value is the next word
                ;;
            -*) ;;
            *)
                cmd=$i
                break
                ;;
        esac
    done
    if ((cmd > 0)); then
        if ((_uva_cword == cmd)); then
            local IFS=$'\n'
            mapfile -t COMPREPLY < <(compgen -c -- "$cur")
        else
            _uva_container_files "$cur"
        fi
        return 0
    fi

    case $cur in
        --*=*)
            _uva_container_run_value "${cur%%=*}" "${cur#*=}" "$cur"
            return 0
            ;;
    esac
    case $prev in
        -p | --publish | --name | -w | --workdir | --tmp | -e | --env | \
            --hostname | --network | --port-driver | --outbound | --restart | --pids-limit | \
            --sockets-limit | --shm-size | --userns | -v | --volume)
            _uva_container_run_value "$prev" "$cur" "$cur"
            return 0
            ;;
    esac
    if [[ $cur == -* ]]; then
        _uva_container_reply "$cur" "$run_opts"
        return 0
    fi
    # The COMMAND word.
    local IFS=$'\n'
    mapfile -t COMPREPLY < <(compgen -c -- "$cur")
    return 0
}

complete -F _uva_container uva_container
