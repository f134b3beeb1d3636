complete -c logs2eca -s l -l logfile -d 'The log file to follow; it may not exist yet' -r
complete -c logs2eca -s p -l pattern -d 'Run the command when a new line matches this: a literal, or a regex as /re/, |re| or %re%' -r
complete -c logs2eca -s c -l command -d 'The command to run, split like a shell would but run without one (use sh -c \'...\' for pipes)' -r
complete -c logs2eca -s w -l wait -d 'Cooldown after the command exits, in seconds (decimal); matches meanwhile are suppressed [default: 3]' -r
complete -c logs2eca -s x -l exclude -d 'A line that also matches this pattern never triggers (same syntax as --pattern)' -r
complete -c logs2eca -s t -l timeout -d 'Stop a command that runs longer than this many seconds: SIGTERM to its process group, SIGKILL 2 s later; 0 means no limit [default: none]' -r
complete -c logs2eca -s i -l ignore-case -d 'Match both patterns without regard to case'
complete -c logs2eca -l literal -d 'Take the patterns as literal text even when they look like /re/'
complete -c logs2eca -l from-beginning -d 'Also process the lines already in the file at start'
complete -c logs2eca -l once -d 'Stop at the end of the file instead of following it'
complete -c logs2eca -s n -l dry-run -d 'Print each matching line to stdout instead of running the command; no cooldown'
complete -c logs2eca -s v -l verbose -d 'Log more (-v debug, -vv trace); overrides RUST_LOG'
complete -c logs2eca -s q -l quiet -d 'Log less (-q warnings only, -qq errors only); overrides RUST_LOG'
complete -c logs2eca -s h -l help -d 'Print help (see more with \'--help\')'
complete -c logs2eca -s V -l version -d 'Print version'
