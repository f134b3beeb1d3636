complete -c logs2eca -s l -l logfile -d 'The log file to follow; it may not exist yet. - reads standard input as a stream' -r
complete -c logs2eca -s p -l pattern -d 'Run the command when a new line matches this: a literal, or a regex as /re/, |re| or %re%' -r
complete -c logs2eca -s c -l command -d 'The command to run, split like a shell would but run without one (use sh -c \'...\' for pipes)' -r
complete -c logs2eca -s w -l wait -d 'Cooldown after the command exits (DURATION: seconds, or 500ms, 10m, 1.5h, 2d, or a systemd time span such as 1m30s or 2h 30min); matches meanwhile are suppressed; 0: every match runs, in turn [default: 3]' -r
complete -c logs2eca -s x -l exclude -d 'A line that also matches this pattern never triggers (same syntax as --pattern)' -r
complete -c logs2eca -s t -l timeout -d 'Stop a command that runs longer than this DURATION: SIGTERM to its process group, SIGKILL 2 s later; 0 means no limit [default: none]' -r
complete -c logs2eca -l state-file -d 'Keep the read position and the cooldown in this file across restarts; it is locked while in use [default: $STATE_DIRECTORY/state.json when STATE_DIRECTORY is set, else none]' -r
complete -c logs2eca -l poll -d 'How changes are noticed: auto (inotify, and a look every second where inotify cannot be used or the file system is remote), never (inotify only), or a DURATION (at least 10ms) to look at that interval without inotify [default: auto]' -r
complete -c logs2eca -l threshold -d 'Trigger only on the N-th match within DURATION (a sliding window), e.g. 20/1m; per key with --key [default: 1, every match]' -r
complete -c logs2eca -l key -d 'Count, cool down and run separately for each value of these capture groups (names or numbers, comma-separated)' -r
complete -c logs2eca -l max-keys -d 'Track at most this many keys; busy keys are never forgotten [default: 10000]' -r
complete -c logs2eca -l max-running -d 'Run at most this many commands at once, across keys [default: 1]' -r
complete -c logs2eca -s u -l unit -d 'Journal entries of this unit, as journalctl -u (repeat for more); implies --journal' -r
complete -c logs2eca -l journal-match -d 'Journal matches as journalctl takes them: FIELD=VALUE (one field repeated: any of them; different fields: all), + between groups (either group); split like a shell would; implies --journal' -r
complete -c logs2eca -l journal-directory -d 'Read the journal files in this directory (a container\'s, a copy from another machine) instead of the system journal; implies --journal' -r
complete -c logs2eca -l env-file -d 'Read LOGS2ECA_* settings (and the command\'s environment) from FILE as systemd\'s EnvironmentFile= does; it overrides the environment, flags override it; may be repeated, later files win' -r -F
complete -c logs2eca -l log-format -d 'Log lines on stderr: journal (<N> priority prefix, no timestamp), plain, or auto (journal when stderr is the journal) [default: auto]' -r
complete -c logs2eca -s i -l ignore-case -d 'Match both patterns without regard to case'
complete -c logs2eca -l literal -d 'Take the patterns as literal text even when they look like /re/'
complete -c logs2eca -l from-beginning -d 'Also process the lines already in the file at start'
complete -c logs2eca -l journal -d 'Follow the systemd journal instead of a file: each entry\'s MESSAGE is a line'
complete -c logs2eca -l once -d 'Stop at the end of the file (or journal) instead of following it'
complete -c logs2eca -s n -l dry-run -d 'Print each line that would trigger to stdout instead of running the command; --wait defaults to 0 here'
complete -c logs2eca -l json -d 'With --dry-run: print one JSON object per line that would trigger (line, file, offset, groups, key)'
complete -c logs2eca -l check -d 'Validate the settings as a start would, print each as the daemon will use it with where it came from, and exit: 0, 1 where a start would fail (file unreadable), 2 for a configuration error'
complete -c logs2eca -l strict -d 'Any start-up warning is an error (exit 2): for CI, with --check'
complete -c logs2eca -s v -l verbose -d 'Log more (-v debug, -vv trace); overrides RUST_LOG'
complete -c logs2eca -s q -l quiet -d 'Log less (-q warnings only, -qq errors only); overrides RUST_LOG'
complete -c logs2eca -s h -l help -d 'Print help (see more with \'--help\')'
complete -c logs2eca -s V -l version -d 'Print version'
