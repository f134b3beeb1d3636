# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_logs2eca_global_optspecs
    string join \n l/logfile= p/pattern= c/command= w/wait= x/exclude= i/ignore-case literal t/timeout= from-beginning state-file= metrics-file= poll= threshold= key= max-keys= max-running= retry= undo= undo-after= time= time-zone= journal u/unit= journal-match= journal-directory= once n/dry-run json check env-file= strict v/verbose q/quiet log-format= h/help V/version
end

function __fish_logs2eca_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_logs2eca_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_logs2eca_using_subcommand
    set -l cmd (__fish_logs2eca_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c logs2eca -n "__fish_logs2eca_needs_command" -s l -l logfile -d 'The log file to follow; it may not exist yet. - reads standard input as a stream' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s p -l pattern -d 'Run the command when a new line matches this: a literal, or a regex as /re/, |re| or %re%' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s c -l command -d 'The command to run, split like a shell would but run without one (use sh -c \'...\' for pipes)' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s w -l wait -d 'Cooldown after the command exits (DURATION: seconds, or 500ms, 10m, 1.5h, 2d, or a systemd time span such as 1m30s or 2h 30min); matches meanwhile are suppressed; 0: every match runs, in turn [default: 3]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s x -l exclude -d 'A line that also matches this pattern never triggers (same syntax as --pattern)' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s t -l timeout -d 'Stop a command that runs longer than this DURATION: SIGTERM to its process group, SIGKILL 2 s later; 0 means no limit [default: none]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l state-file -d 'Keep the read position and the cooldown in this file across restarts; it is locked while in use [default: $STATE_DIRECTORY/state.json when STATE_DIRECTORY is set, else none]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l metrics-file -d 'Write the counters in Prometheus text format to this file (e.g. for node_exporter\'s textfile collector), replaced whenever the state is saved and never while idle [default: none]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l poll -d 'How changes are noticed: auto (inotify, and a look every second where inotify cannot be used or the file system is remote), never (inotify only), or a DURATION (at least 10ms) to look at that interval without inotify [default: auto]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l threshold -d 'Trigger only on the N-th match within DURATION (a sliding window), e.g. 20/1m; per key with --key [default: 1, every match]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l key -d 'Count, cool down and run separately for each value of these capture groups (names or numbers, comma-separated)' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l max-keys -d 'Track at most this many keys; busy keys are never forgotten [default: 10000]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l max-running -d 'Run at most this many commands at once, across keys [default: 1]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l retry -d 'Run a command that failed (a non-zero exit, its --timeout, a failed start) again, up to N more times, after DURATION, then 2x, 4x... longer; e.g. 3/10s [default: none]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l undo -d 'After the command succeeds, run this command --undo-after later, with the same environment and LOGS2ECA_ACTION=undo; one pending undo per key, postponed by a new trigger [default: none]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l undo-after -d 'How long after the command\'s success its --undo runs (DURATION; required with --undo)' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l time -d 'What a line\'s time is, for windows, cooldowns and the state: auto (the timestamp it carries: RFC 3339/ISO 8601, syslog, Common Log Format, epoch seconds at its start), arrival (when it is read), or a strftime-style FORMAT [default: auto]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l time-zone -d 'The zone of timestamps that carry none: a tz database name (Europe/Berlin, UTC) or an offset (+01:00) [default: the local zone]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s u -l unit -d 'Journal entries of this unit, as journalctl -u (repeat for more); implies --journal' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l journal-match -d 'Journal matches as journalctl takes them: FIELD=VALUE (one field repeated: any of them; different fields: all), + between groups (either group); split like a shell would; implies --journal' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l journal-directory -d 'Read the journal files in this directory (a container\'s, a copy from another machine) instead of the system journal; implies --journal' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l env-file -d 'Read LOGS2ECA_* settings (and the command\'s environment) from FILE as systemd\'s EnvironmentFile= does; it overrides the environment, flags override it; may be repeated, later files win' -r -F
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l log-format -d 'Log lines on stderr: journal (<N> priority prefix, no timestamp), plain, or auto (journal when stderr is the journal) [default: auto]' -r
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s i -l ignore-case -d 'Match both patterns without regard to case'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l literal -d 'Take the patterns as literal text even when they look like /re/'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l from-beginning -d 'Also process the lines already in the file at start'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l journal -d 'Follow the systemd journal instead of a file: each entry\'s MESSAGE is a line'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l once -d 'Stop at the end of the file (or journal) instead of following it'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s n -l dry-run -d 'Print each line that would trigger to stdout instead of running the command; --wait defaults to 0 here'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l json -d 'With --dry-run: print one JSON object per line that would trigger (line, file, offset, groups, key, time)'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l check -d 'Validate the settings as a start would, print each as the daemon will use it with where it came from, and exit: 0, 1 where a start would fail (file unreadable), 2 for a configuration error'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -l strict -d 'Any start-up warning is an error (exit 2): for CI, with --check'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s v -l verbose -d 'Log more (-v debug, -vv trace); overrides RUST_LOG'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s q -l quiet -d 'Log less (-q warnings only, -qq errors only); overrides RUST_LOG'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -s V -l version -d 'Print version'
complete -c logs2eca -n "__fish_logs2eca_needs_command" -f -a "status" -d 'Show what a monitor is doing, from its state file (read without its lock: also while it runs)'
complete -c logs2eca -n "__fish_logs2eca_using_subcommand status" -l keys -d 'Show at most this many keys, most recent first; 0 shows all [default: 20]' -r
complete -c logs2eca -n "__fish_logs2eca_using_subcommand status" -l json -d 'Print one JSON object instead of text'
complete -c logs2eca -n "__fish_logs2eca_using_subcommand status" -s h -l help -d 'Print help'
