use strict;
use warnings;
$| = 1;
my ($a, $b) = split " ", scalar <STDIN>;
print $a * $b, "\n";
print STDERR "warn\n";
exit 3;
