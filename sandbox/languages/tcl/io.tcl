lassign [gets stdin] a b
puts [expr {$a * $b}]
puts stderr warn
exit 3
