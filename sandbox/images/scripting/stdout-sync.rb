# Loaded by the Ruby run command (ruby -r/usr/local/lib/coderoom/stdout-sync.rb main.rb): the
# program's stdout is a pipe, which Ruby would otherwise buffer until exit.
$stdout.sync = true
$stderr.sync = true
